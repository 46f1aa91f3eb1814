import type {Backend} from '../src/backend/backend.js'
import {attentionBackwardVersionCases} from '../dev/kernels/attention-backward.js'
import {attentionVersionCases} from '../dev/kernels/attention.js'
import {matmulF16VersionCases} from '../dev/kernels/matmul-f16.js'
import {matmulVersionCases} from '../dev/kernels/matmul.js'
import {ssdVersionCases} from '../dev/kernels/ssd-mix.js'
import type {BenchCase} from './runner.js'

/**
 * `--versions`: every kernel version that mattered, and the tiles tried for each, at the large
 * shapes, so BENCHMARKS.md's history can be re-run: `npm run bench -- --versions --filter matmul`.
 * The versions and their cases live in dev/kernels/, one file per kernel.
 */
export const versionCases = (): BenchCase[] => [...matmulVersionCases(), ...attentionVersionCases(), ...attentionBackwardVersionCases(), ...ssdVersionCases()]

/** The f16 matmul's versions on this backend (tensor-core ones only where it has them). */
export const f16VersionCases = (backend: Backend): BenchCase[] => matmulF16VersionCases(backend)
