import type {Backend} from '../backend/backend.js'
import type {FlashTile} from '../kernels/attention-v2.js'
import {attention, type AttentionParams} from '../kernels/attention.js'
import {attentionBackwardDkv, attentionBackwardDq, attentionBackwardStats, type AttentionBackwardParams} from '../kernels/backward/attention-backward.js'
import {castF16, packedWords} from '../kernels/f16.js'
import type {Kernel} from '../kernels/kernel.js'
import {matmulF16, tensorCoreSupport, type TensorCores} from '../kernels/matmul-f16.js'
import type {MatmulTile} from '../kernels/matmul-v2.js'
import type {MatmulGpuParams} from '../kernels/matmul-wgsl.js'
import {matmul} from '../kernels/matmul.js'
import {ssdChunkCumsum, ssdChunkState, ssdStatePass} from '../kernels/ssd-chunk.js'
import {ssdChunkMix} from '../kernels/ssd-mix.js'
import {empty, type Tensor} from '../engine/tensor.js'
import {instance, random} from './cases.js'
import type {BenchCase} from './runner.js'

/**
 * `--versions`: every kernel version that mattered, and the tiles tried for each, at the large
 * shapes, so BENCHMARKS.md's history can be re-run: `npm run bench -- --versions --filter matmul`.
 * Each case launches its kernel directly with the version forced.
 */
function kernelCase<P>(name: string, label: string, kernel: Kernel<P>, params: P, inputShapes: number[][], outputSizes: number[], flops: number, bytes: number): BenchCase {
  return {
    name: `${name} [${label}]`,
    make(backend) {
      const inputs = inputShapes.map((shape, i) => random(backend, shape, 100 + i))
      const run = (): void => {
        const outs = outputSizes.map((n) => empty(backend, [n]))
        backend.run(kernel, params, inputs.map((t) => t.storage), outs.map((t) => t.storage))
      }
      return instance('', inputs, run, flops, bytes)
    },
  }
}

const tileLabel = (t: MatmulTile): string => `v2 ${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn} g${t.group}${t.unroll ? ' unrolled' : ''}`

function matmulVersions(n: number): BenchCase[] {
  const base = {batch: 1, m: n, n, k: n, transA: false, transB: false, broadcastB: false, bias: false}
  const tiles: MatmulTile[] = [
    {bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, group: 8},
    {bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, group: 8},
    {bm: 128, bn: 64, bk: 16, tm: 8, tn: 4, group: 8},
    {bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, group: 8},
    {bm: 128, bn: 256, bk: 8, tm: 8, tn: 16, group: 8},
    {bm: 256, bn: 128, bk: 8, tm: 16, tn: 8, group: 8},
    {bm: 128, bn: 128, bk: 8, tm: 8, tn: 16, group: 8},
    {bm: 64, bn: 128, bk: 8, tm: 8, tn: 8, group: 8},
    {bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, group: 8, unroll: true},
    {bm: 256, bn: 128, bk: 8, tm: 16, tn: 8, group: 8, unroll: true},
    {bm: 128, bn: 256, bk: 8, tm: 8, tn: 16, group: 8, unroll: true},
    {bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, group: 8, unroll: true},
    {bm: 256, bn: 128, bk: 16, tm: 16, tn: 8, group: 8, unroll: true},
    {bm: 64, bn: 128, bk: 8, tm: 8, tn: 8, group: 8, unroll: true},
    {bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, group: 4, unroll: true},
    {bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, group: 16, unroll: true},
    {bm: 128, bn: 64, bk: 8, tm: 8, tn: 8, group: 8, unroll: true},
    {bm: 64, bn: 64, bk: 8, tm: 8, tn: 8, group: 8, unroll: true},
    {bm: 128, bn: 64, bk: 8, tm: 8, tn: 4, group: 8, unroll: true},
    {bm: 256, bn: 64, bk: 8, tm: 16, tn: 4, group: 8, unroll: true},
    {bm: 64, bn: 256, bk: 8, tm: 4, tn: 16, group: 8, unroll: true},
    {bm: 128, bn: 128, bk: 8, tm: 4, tn: 16, group: 8, unroll: true},
  ]
  const flops = 2 * n ** 3
  const bytes = 12 * n * n
  const shapes = [[n, n], [n, n]]
  return [
    kernelCase(`matmul ${n}³`, 'v1 64x64/4x4', matmul, {...base, version: 1} as MatmulGpuParams, shapes, [n * n], flops, bytes),
    ...tiles.map((tile) => kernelCase(`matmul ${n}³`, tileLabel(tile), matmul, {...base, version: 2, tile} as MatmulGpuParams, shapes, [n * n], flops, bytes)),
  ]
}

/**
 * The tiles that lead at 4096³, on the transposed operands of a Llama layer's linear: the forward
 * (x Wᵀ: Bᵀ, 8192 tokens, 2048 -> 3072) and the weight gradient (dyᵀ x: Aᵀ, over 8192 tokens).
 */
function linearVersions(): BenchCase[] {
  const tiles: MatmulTile[] = [
    {bm: 256, bn: 128, bk: 8, tm: 16, tn: 8, group: 8},
    {bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, group: 8},
    {bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, group: 8, unroll: true},
    {bm: 64, bn: 128, bk: 8, tm: 8, tn: 8, group: 8, unroll: true},
  ]
  const shapes = [
    {label: 'x Wᵀ 8192x2048 -> 3072', m: 8192, n: 3072, k: 2048, transA: false, transB: true},
    {label: 'dyᵀ x 3072x8192 . 8192x2048', m: 3072, n: 2048, k: 8192, transA: true, transB: false},
  ]
  return shapes.flatMap(({label, ...shape}) => {
    const p = {batch: 1, ...shape, broadcastB: false, bias: false}
    const inputs = [shape.transA ? [shape.k, shape.m] : [shape.m, shape.k], shape.transB ? [shape.n, shape.k] : [shape.k, shape.n]]
    const flops = 2 * shape.m * shape.n * shape.k
    const bytes = 4 * (shape.m * shape.k + shape.k * shape.n + shape.m * shape.n)
    return tiles.map((tile) => kernelCase(`matmul ${label}`, tileLabel(tile), matmul, {...p, version: 2, tile} as MatmulGpuParams, inputs, [shape.m * shape.n], flops, bytes))
  })
}

const ATTN = {batch: 1, tq: 2048, tk: 2048, hq: 32, hkv: 8, d: 64}
const attnName = `attention causal T=${ATTN.tq} Hq=${ATTN.hq} Hkv=${ATTN.hkv} D=${ATTN.d}`
const attnFlops = (passes: number): number => passes * 2 * ATTN.batch * ATTN.hq * ATTN.tq * ATTN.tk * ATTN.d / 2
const qShape = [ATTN.batch, ATTN.tq, ATTN.hq, ATTN.d]
const kvShape = [ATTN.batch, ATTN.tk, ATTN.hkv, ATTN.d]
const qSize = ATTN.batch * ATTN.tq * ATTN.hq * ATTN.d
const kvSize = ATTN.batch * ATTN.tk * ATTN.hkv * ATTN.d

function attentionVersions(): BenchCase[] {
  const base: AttentionParams = {...ATTN, scale: 0.125, headMask: false, returnProbs: false}
  const tiles: FlashTile[] = [{rows: 64, keys: 64}, {rows: 64, keys: 32}, {rows: 128, keys: 32}, {rows: 64, keys: 16}, {rows: 128, keys: 16}, {rows: 32, keys: 32}]
  const bytes = 4 * (2 * qSize + 2 * kvSize)
  return [
    kernelCase(attnName, 'v1', attention, {...base, version: 1}, [qShape, kvShape, kvShape], [qSize], attnFlops(2), bytes),
    ...tiles.map((tile) => kernelCase(attnName, `v2 rows ${tile.rows} keys ${tile.keys}`, attention, {...base, version: 2, tile}, [qShape, kvShape, kvShape], [qSize], attnFlops(2), bytes)),
    ...attentionDecodeVersions(),
  ]
}

/** A decode step of the Llama-3.2-1B shape at 8k context: one query row per sequence against the cache (version 2's default tile, version 3). */
function attentionDecodeVersions(): BenchCase[] {
  const shape = {batch: 32, tq: 1, tk: 8192, hq: 32, hkv: 8, d: 64}
  const base: AttentionParams = {...shape, scale: 0.125, headMask: false, returnProbs: false}
  const q = [shape.batch, 1, shape.hq, shape.d]
  const kv = [shape.batch, shape.tk, shape.hkv, shape.d]
  const flops = 2 * 2 * shape.batch * shape.hq * shape.tk * shape.d
  const bytes = 4 * (2 * shape.batch * shape.hq * shape.d + 2 * shape.batch * shape.tk * shape.hkv * shape.d)
  const name = `attention decode B=${shape.batch} T=${shape.tk} Hq=${shape.hq} Hkv=${shape.hkv} D=${shape.d}`
  return ([2, 3] as const).map((version) => kernelCase(name, `v${version}`, attention, {...base, version}, [q, kv, kv], [shape.batch * shape.hq * shape.d], flops, bytes))
}

/** The three backward kernels in sequence (stats, dq, dk/dv), one version and tile for all. */
function attentionBackwardVersion(label: string, version: 1 | 2, tile?: FlashTile): BenchCase {
  const p: AttentionBackwardParams = {...ATTN, scale: 0.125, headMask: false, version, tile}
  return {
    name: `attention bwd causal T=${ATTN.tq} Hq=${ATTN.hq} Hkv=${ATTN.hkv} D=${ATTN.d} [${label}]`,
    make(backend) {
      const [q, k, v, out, gy] = [qShape, kvShape, kvShape, qShape, qShape].map((s, i) => random(backend, s, 200 + i))
      const run = (): void => {
        const stats = empty(backend, [ATTN.batch * ATTN.hq * ATTN.tq * 2])
        backend.run(attentionBackwardStats, p, [q, k, out, gy].map((t) => t.storage), [stats.storage])
        const rest = [q, k, v, gy, stats].map((t) => t.storage)
        backend.run(attentionBackwardDq, p, rest, [empty(backend, [qSize]).storage])
        backend.run(attentionBackwardDkv, p, rest, [empty(backend, [kvSize]).storage, empty(backend, [kvSize]).storage])
      }
      // Version 1 takes a large fraction of a second: one run a sample.
      return {...instance('', [q, k, v, out, gy], run, attnFlops(7), 4 * (5 * qSize + 4 * kvSize)), reps: version === 1 ? 1 : 3}
    },
  }
}

function f16Versions(backend: Backend, n: number): BenchCase[] {
  const tc = tensorCoreSupport(backend)
  const variants: [string, TensorCores | undefined][] = [['CUDA cores', undefined]]
  if (tc) {
    // [version, subgroups M, N, fragments M, N, K staged a slice]
    const sweep: [2 | 3 | 4 | 5 | 6, number, number, number, number, number][] = [
      [2, 2, 2, 4, 4, 32], [3, 2, 2, 4, 4, 32],
      [4, 2, 2, 4, 4, 32], [4, 2, 4, 4, 4, 32], [4, 2, 2, 4, 4, 64], [4, 2, 4, 4, 4, 64], [4, 4, 2, 4, 4, 64],
      [4, 2, 4, 4, 2, 32], [4, 2, 4, 4, 2, 64], [4, 4, 2, 2, 4, 64], [4, 4, 4, 2, 2, 64], [4, 2, 2, 4, 2, 64],
      [5, 2, 2, 4, 4, 32], [5, 2, 4, 4, 4, 32], [5, 4, 2, 4, 4, 32], [5, 2, 2, 4, 2, 32], [5, 2, 4, 4, 2, 32],
      [6, 2, 2, 4, 4, 32], [6, 2, 2, 4, 4, 64], [6, 2, 4, 4, 4, 32], [6, 2, 4, 4, 2, 64], [6, 2, 2, 4, 2, 32],
    ]
    for (const [version, sm, sn, fm, fn, stageK] of sweep) {
      const tile = {subgroupsM: sm, subgroupsN: sn, fragmentsM: fm, fragmentsN: fn, stageK}
      variants.push([`v${version} ${sm}x${sn} subgroups of ${fm}x${fn} fragments${version > 2 ? `, K ${stageK} a slice` : ''}`, {...tc, version, tile}])
    }
  }
  return variants.map(([label, tensorCores]) => ({
    name: `matmul f16 ${n}³ [${label}]`,
    make(b: Backend) {
      const halves: Tensor[] = [0, 1].map((i) => {
        const x = random(b, [n, n], 300 + i)
        const packed = empty(b, [packedWords(n * n)], 'i32')
        b.run(castF16, {n: n * n}, [x.storage], [packed.storage])
        x.dispose()
        return packed
      })
      const run = (): void => b.run(matmulF16, {m: n, n, k: n, transB: false, tensorCores}, halves.map((h) => h.storage), [empty(b, [n * n]).storage])
      return instance('', halves, run, 2 * n ** 3, 8 * n * n)
    },
  }))
}

/** One backward kernel alone (stats from the CPU-free random inputs: timing only). */
function attentionBackwardKernel(label: string, kernel: Kernel<AttentionBackwardParams>, tile: FlashTile | undefined, outputs: number[]): BenchCase {
  const p: AttentionBackwardParams = {...ATTN, scale: 0.125, headMask: false, version: 2, tile}
  const statsShape = [ATTN.batch * ATTN.hq * ATTN.tq * 2]
  const shapes = kernel === attentionBackwardStats ? [qShape, kvShape, qShape, qShape] : [qShape, kvShape, kvShape, qShape, statsShape]
  const passes = kernel === attentionBackwardStats ? 1 : kernel === attentionBackwardDq ? 3 : 5
  return kernelCase(`attention bwd ${kernel.name.replace('attention_backward_', '')} T=${ATTN.tq} Hq=${ATTN.hq} Hkv=${ATTN.hkv} D=${ATTN.d}`, label, kernel, p, shapes, outputs, attnFlops(passes), 4 * (4 * qSize + 2 * kvSize))
}

export const versionCases = (): BenchCase[] => [
  ...matmulVersions(4096),
  ...linearVersions(),
  ...attentionVersions(),
  attentionBackwardVersion('v1', 1),
  attentionBackwardVersion('v2 default tiles', 2),
  attentionBackwardKernel('v2 rows 64 keys 32', attentionBackwardStats, {rows: 64, keys: 32}, [ATTN.batch * ATTN.hq * ATTN.tq * 2]),
  attentionBackwardKernel('v2 rows 64 keys 16', attentionBackwardStats, {rows: 64, keys: 16}, [ATTN.batch * ATTN.hq * ATTN.tq * 2]),
  attentionBackwardKernel('v2 rows 64 keys 32', attentionBackwardDq, {rows: 64, keys: 32}, [qSize]),
  attentionBackwardKernel('v2 rows 64 keys 16', attentionBackwardDq, {rows: 64, keys: 16}, [qSize]),
  attentionBackwardKernel('v2 rows 128 keys 16', attentionBackwardDq, {rows: 128, keys: 16}, [qSize]),
  ...([
    [64, 32, 1],
    [64, 16, 2],
    [64, 16, 4],
    [32, 16, 4],
    [32, 8, 4],
    [64, 32, 2],
    [32, 8, 8],
  ] as const).map(([rows, keys, splits]) => attentionBackwardKernel(`v2 rows ${rows} queries ${keys} splits ${splits}`, attentionBackwardDkv, {rows, keys, splits}, [kvSize, kvSize])),
  ...ssdKernels(),
]

/**
 * The chunked SSD's kernels one by one at the fwd+bwd case's shape (B=8 T=2048 H=32 P=64, one
 * group of N=64, Q=64; random inputs, timing only): where the scan's time goes, and the chunk
 * mix's versions in each of its four uses.
 */
function ssdKernels(): BenchCase[] {
  const [Bt, T, H, P, G, N, Q] = [8, 2048, 32, 64, 1, 64, 64]
  const chunk = {batch: Bt, seq: T, heads: H, chunk: Q}
  const K = T / Q
  const head = {heads: H, dim: P}
  const group = {heads: G, dim: N}
  const [xs, bcs, acsShape, states] = [[Bt, T, H, P], [Bt, T, G, N], [Bt, H, T], [Bt, H, K, P, N]]
  const name = (what: string): string => `ssd ${what} B=${Bt} T=${T} H=${H} P=${P} N=${N} Q=${Q}`
  // Chunk mix: 2T(QN/2 + QP/2 + NP) a head (half the in-chunk pairs are causal).
  const mixFlops = Bt * H * 2 * T * (Q * N / 2 + Q * P / 2 + N * P)
  const mixBytes = 4 * Bt * T * (2 * H * P + 2 * G * N + H) + 4 * Bt * H * K * P * N
  const uses = [
    ['y', group, group, head, false, 'ji'],
    ['dx', group, group, head, true, 'ji'],
    ['dB', head, head, group, true, 'ij'],
    ['dC', head, head, group, false, 'ij'],
  ] as const
  return [
    kernelCase(name('chunk cumsum'), 'v1', ssdChunkCumsum, chunk, [[Bt, T, H]], [Bt * H * T], Bt * T * H, 8 * Bt * T * H),
    kernelCase(name('chunk state'), 'v1', ssdChunkState, {...chunk, u: head, v: group, decay: 'toEnd'}, [xs, bcs, acsShape], [Bt * H * K * P * N], Bt * H * 2 * T * P * N, 4 * (Bt * T * H * P + Bt * H * K * P * N)),
    kernelCase(name('state pass'), 'v1', ssdStatePass, {...chunk, size: P * N, reverse: false, init: false}, [states, acsShape], [Bt * H * K * P * N, Bt * H * P * N], Bt * H * K * P * N * 2, 8 * Bt * H * K * P * N),
    ...uses.flatMap(([use, q, k, v, anticausal, stateLayout]) =>
      ([1, 2] as const).map((version) => {
        const p = {...chunk, q, k, v, anticausal, stateLayout, version}
        const operand = (o: {heads: number; dim: number}): number[] => [Bt, T, o.heads, o.dim]
        return kernelCase(name(`chunk mix (${use})`), `v${version}`, ssdChunkMix, p, [operand(q), operand(k), operand(v), acsShape, states], [Bt * T * H * v.dim], mixFlops, mixBytes)
      }),
    ),
  ]
}

/** The f16 matmul's versions on this backend (tensor-core ones only where it has them). */
export const f16VersionCases = (backend: Backend): BenchCase[] => f16Versions(backend, 4096)
