import {defaultForwardTile, flashForward, type FlashTile} from '../../src/kernels/attention-v2.js'
import {attention, attentionV1, type AttentionParams} from '../../src/kernels/attention.js'
import type {Kernel} from '../../src/kernels/kernel.js'
import {versioned} from '../../src/kernels/wgsl.js'
import type {BenchCase} from '../../bench/runner.js'
import {ATTN, attnFlops, kernelCase, kvShape, kvSize, qShape, qSize} from './cases.js'

/**
 * Attention with its WGSL version forced: 1 (a workgroup per query row, the one `attention` runs
 * for `returnProbs`) or 2 (flash tiles, attention-v2.ts) with any tile.
 */
export interface AttentionVersionParams extends AttentionParams {
  version: 1 | 2
  tile?: FlashTile
}

export const attentionVersions: Kernel<AttentionVersionParams> = {
  name: attention.name,
  cpu: attention.cpu,
  gpu: versioned<AttentionVersionParams>({1: attentionV1(), 2: flashForward((p) => (p as AttentionVersionParams).tile ?? defaultForwardTile(p))}, (p) => p.version),
}

const attnName = `attention causal T=${ATTN.tq} Hq=${ATTN.hq} Hkv=${ATTN.hkv} D=${ATTN.d}`

/** `--versions`: version 1 and the flash tiles tried. */
export function attentionVersionCases(): BenchCase[] {
  const base: AttentionParams = {...ATTN, scale: 0.125, headMask: false, returnProbs: false}
  const tiles: FlashTile[] = [{rows: 64, keys: 64}, {rows: 64, keys: 32}, {rows: 128, keys: 32}, {rows: 64, keys: 16}, {rows: 128, keys: 16}, {rows: 32, keys: 32}]
  const bytes = 4 * (2 * qSize + 2 * kvSize)
  return [
    kernelCase(attnName, 'v1', attentionVersions, {...base, version: 1}, [qShape, kvShape, kvShape], [qSize], attnFlops(2), bytes),
    ...tiles.map((tile) => kernelCase(attnName, `v2 rows ${tile.rows} keys ${tile.keys}`, attentionVersions, {...base, version: 2, tile}, [qShape, kvShape, kvShape], [qSize], attnFlops(2), bytes)),
  ]
}

