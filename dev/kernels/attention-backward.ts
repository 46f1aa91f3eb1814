import {empty} from '../../src/engine/tensor.js'
import type {FlashTile} from '../../src/kernels/attention-v2.js'
import {attentionBackwardDkv, attentionBackwardDq, attentionBackwardStats, dkvV1, dqV1, statsV1, type AttentionBackwardParams} from '../../src/kernels/backward/attention-backward.js'
import {defaultDkvTile, defaultDqTile, defaultStatsTile, dkvV2, dqV2, statsV2} from '../../src/kernels/backward/attention-backward-v2.js'
import type {GpuProgram, Kernel} from '../../src/kernels/kernel.js'
import {versioned} from '../../src/kernels/wgsl.js'
import {instance, random, randomArray} from '../../bench/cases.js'
import type {BenchCase} from '../../bench/runner.js'
import {ATTN, attnFlops, kernelCase, kvShape, kvSize, qShape, qSize} from './cases.js'
import {attentionVersions, type AttentionVersionParams} from './attention.js'
import type {Checker} from './checks.js'

/** The attention backward kernels with their WGSL version forced: 1 (rows from storage) or 2 (tiled) with any tile. */
export interface AttentionBackwardVersionParams extends AttentionBackwardParams {
  version: 1 | 2
  tile?: FlashTile
}

type Params = AttentionBackwardVersionParams

function forced(kernel: Kernel<AttentionBackwardParams>, v1: GpuProgram<AttentionBackwardParams>, v2: (tileOf: (p: AttentionBackwardParams) => FlashTile) => GpuProgram<AttentionBackwardParams>, defaultTile: (p: AttentionBackwardParams) => FlashTile): Kernel<Params> {
  return {
    name: kernel.name,
    cpu: kernel.cpu,
    gpu: versioned<Params>({1: v1, 2: v2((p) => (p as Params).tile ?? defaultTile(p))}, (p) => p.version),
  }
}

export const statsVersions = forced(attentionBackwardStats, statsV1, statsV2, defaultStatsTile)
export const dqVersions = forced(attentionBackwardDq, dqV1, dqV2, defaultDqTile)
export const dkvVersions = forced(attentionBackwardDkv, dkvV1, dkvV2, defaultDkvTile)

/** The three backward kernels in sequence (stats, dq, dk/dv), one version and tile for all. */
function attentionBackwardVersion(label: string, version: 1 | 2, tile?: FlashTile): BenchCase {
  const p: Params = {...ATTN, scale: 0.125, headMask: false, version, tile}
  return {
    name: `attention bwd causal T=${ATTN.tq} Hq=${ATTN.hq} Hkv=${ATTN.hkv} D=${ATTN.d} [${label}]`,
    make(backend) {
      const [q, k, v, out, gy] = [qShape, kvShape, kvShape, qShape, qShape].map((s, i) => random(backend, s, 200 + i))
      const run = (): void => {
        const stats = empty(backend, [ATTN.batch * ATTN.hq * ATTN.tq * 2])
        backend.run(statsVersions, p, [q, k, out, gy].map((t) => t.storage), [stats.storage])
        const rest = [q, k, v, gy, stats].map((t) => t.storage)
        backend.run(dqVersions, p, rest, [empty(backend, [qSize]).storage])
        backend.run(dkvVersions, p, rest, [empty(backend, [kvSize]).storage, empty(backend, [kvSize]).storage])
      }
      // Version 1 takes a large fraction of a second: one run a sample.
      return {...instance('', [q, k, v, out, gy], run, attnFlops(7), 4 * (5 * qSize + 4 * kvSize)), reps: version === 1 ? 1 : 3}
    },
  }
}

/** One backward kernel alone (stats from the CPU-free random inputs: timing only). */
function attentionBackwardKernel(label: string, kernel: Kernel<Params>, tile: FlashTile | undefined, outputs: number[]): BenchCase {
  const p: Params = {...ATTN, scale: 0.125, headMask: false, version: 2, tile}
  const statsShape = [ATTN.batch * ATTN.hq * ATTN.tq * 2]
  const shapes = kernel === statsVersions ? [qShape, kvShape, qShape, qShape] : [qShape, kvShape, kvShape, qShape, statsShape]
  const passes = kernel === statsVersions ? 1 : kernel === dqVersions ? 3 : 5
  return kernelCase(`attention bwd ${kernel.name.replace('attention_backward_', '')} T=${ATTN.tq} Hq=${ATTN.hq} Hkv=${ATTN.hkv} D=${ATTN.d}`, label, kernel, p, shapes, outputs, attnFlops(passes), 4 * (4 * qSize + 2 * kvSize))
}


/** `--versions`: both versions in sequence, then each kernel alone with the tiles tried. */
export const attentionBackwardVersionCases = (): BenchCase[] => [
  attentionBackwardVersion('v1', 1),
  attentionBackwardVersion('v2 default tiles', 2),
  attentionBackwardKernel('v2 rows 64 keys 32', statsVersions, {rows: 64, keys: 32}, [ATTN.batch * ATTN.hq * ATTN.tq * 2]),
  attentionBackwardKernel('v2 rows 64 keys 16', statsVersions, {rows: 64, keys: 16}, [ATTN.batch * ATTN.hq * ATTN.tq * 2]),
  attentionBackwardKernel('v2 rows 64 keys 32', dqVersions, {rows: 64, keys: 32}, [qSize]),
  attentionBackwardKernel('v2 rows 64 keys 16', dqVersions, {rows: 64, keys: 16}, [qSize]),
  attentionBackwardKernel('v2 rows 128 keys 16', dqVersions, {rows: 128, keys: 16}, [qSize]),
  ...([
    [64, 32, 1],
    [64, 16, 2],
    [64, 16, 4],
    [32, 16, 4],
    [32, 8, 4],
    [64, 32, 2],
    [32, 8, 8],
  ] as const).map(([rows, keys, splits]) => attentionBackwardKernel(`v2 rows ${rows} queries ${keys} splits ${splits}`, dkvVersions, {rows, keys, splits}, [kvSize, kvSize])),
]

/** `--check`: the flash tiles of the forward and of the three backward kernels, on the device, against the CPU (shared inputs). */
export async function checkAttentionVersions({check, reference}: Checker): Promise<void> {
  const shape = {batch: 2, tq: 200, tk: 200, hq: 8, hkv: 2, d: 64}
  const qn = shape.batch * shape.tq * shape.hq * shape.d
  const kvn = shape.batch * shape.tk * shape.hkv * shape.d
  const [q, k, v, out, gy] = [qn, kvn, kvn, qn, qn].map((n, i) => randomArray(n, 10 + i).map((x) => 4 * x))
  for (const tile of [undefined, {rows: 128, keys: 64}, {rows: 32, keys: 32}]) {
    const p: AttentionVersionParams = {...shape, scale: 0.125, headMask: false, returnProbs: false, version: 2, tile}
    await check(`attention v2 ${tile ? `rows ${tile.rows} keys ${tile.keys}` : 'default tile'}`, attentionVersions, p, [q, k, v], [qn], 1e-5)
    const bp: AttentionBackwardVersionParams = {...shape, scale: 0.125, headMask: false, version: 2, tile}
    await check(`attention bwd stats v2 ${tile ? `rows ${tile.rows}` : 'default'}`, statsVersions, bp, [q, k, out, gy], [shape.batch * shape.hq * shape.tq * 2], 1e-5)
    const [stats] = await reference(statsVersions, bp, [q, k, out, gy], [shape.batch * shape.hq * shape.tq * 2])
    await check(`attention bwd dq v2 ${tile ? `rows ${tile.rows}` : 'default'}`, dqVersions, bp, [q, k, v, gy, stats], [qn], 1e-5)
    await check(`attention bwd dk/dv v2 ${tile ? `rows ${tile.rows}` : 'default'}`, dkvVersions, bp, [q, k, v, gy, stats], [kvn, kvn], 1e-5)
  }
}
