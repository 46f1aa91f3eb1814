import {DEFAULT_TILE, fitsV2, matmulV2, type MatmulTile} from '../../src/kernels/matmul-v2.js'
import {matmulRows} from '../../src/kernels/matmul-rows.js'
import {matmulTileOf, matmulV1} from '../../src/kernels/matmul-wgsl.js'
import {matmul, type MatmulParams} from '../../src/kernels/matmul.js'
import type {Kernel} from '../../src/kernels/kernel.js'
import {versioned} from '../../src/kernels/wgsl.js'
import {randomArray} from '../../bench/cases.js'
import type {BenchCase} from '../../bench/runner.js'
import {kernelCase} from './cases.js'
import type {Checker} from './checks.js'

/**
 * The f32 matmul with its WGSL version forced: 1 (64×64 tiles, any shape), 2 (matmul-v2.ts) with
 * any tile, or 3 (matmul-rows.ts, linear layers over few rows); `matmul` picks (matmul-wgsl.ts).
 */
export interface MatmulVersionParams extends MatmulParams {
  version: 1 | 2 | 3
  tile?: MatmulTile
}

export const matmulVersions: Kernel<MatmulVersionParams> = {
  name: matmul.name,
  cpu: matmul.cpu,
  gpu: versioned<MatmulVersionParams>({1: matmulV1, 2: matmulV2((p) => (p as MatmulVersionParams).tile ?? matmulTileOf(p)), 3: matmulRows}, (p) => p.version),
}

const tileLabel = (t: MatmulTile): string => `v2 ${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn} g${t.group}${t.unroll ? ' unrolled' : ''}`

function matmulVersionsAt(n: number): BenchCase[] {
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
    kernelCase(`matmul ${n}³`, 'v1 64x64/4x4', matmulVersions, {...base, version: 1}, shapes, [n * n], flops, bytes),
    ...tiles.map((tile) => kernelCase(`matmul ${n}³`, tileLabel(tile), matmulVersions, {...base, version: 2, tile}, shapes, [n * n], flops, bytes)),
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
    return tiles.map((tile) => kernelCase(`matmul ${label}`, tileLabel(tile), matmulVersions, {...p, version: 2 as const, tile}, inputs, [shape.m * shape.n], flops, bytes))
  })
}

/**
 * A decode step's linears at Llama-3.2-1B shapes (x Wᵀ over one row per sequence) at batches 1 to 1024, f32 weights:
 * 64-row tiles (version 1), the few-rows kernel (version 3, the default up to ROWS_VERSION_MAX_M rows), and version 2's
 * default tile where the rows fill it. Their names start with `decode`: `--versions --filter decode`.
 */
function decodeLinearVersions(): BenchCase[] {
  const layers = [
    {label: 'q/o 2048 -> 2048', n: 2048, k: 2048},
    {label: 'k/v 2048 -> 512', n: 512, k: 2048},
    {label: 'gate/up 2048 -> 8192', n: 8192, k: 2048},
    {label: 'down 8192 -> 2048', n: 2048, k: 8192},
    {label: 'lm head 2048 -> 128256', n: 128256, k: 2048},
  ]
  return [1, 8, 64, 128, 256, 1024].flatMap((m) => layers.flatMap(({label, n, k}) => {
    const p = {batch: 1, m, n, k, transA: false, transB: true, broadcastB: false, bias: false}
    const name = `decode linear ${label}, ${m} rows`
    const versions: [string, MatmulVersionParams][] = [['v1 64x64/4x4', {...p, version: 1}], ['v3 rows', {...p, version: 3}]]
    if (fitsV2(p, DEFAULT_TILE)) versions.push([tileLabel(DEFAULT_TILE), {...p, version: 2, tile: DEFAULT_TILE}])
    return versions.map(([version, params]) => kernelCase(name, version, matmulVersions, params, [[m, k], [n, k]], [m * n], 2 * m * n * k, 4 * (m * k + n * k + m * n)))
  }))
}

/** `--versions`: every tile that mattered at 4096³, on a Llama layer's linears, and on a decode step's. */
export const matmulVersionCases = (): BenchCase[] => [...matmulVersionsAt(4096), ...linearVersions(), ...decodeLinearVersions()]

/** `--check`: version 1 and the version-2 tiles that mattered, on the device, against the CPU. */
export async function checkMatmulVersions({check}: Checker): Promise<void> {
  for (const [label, extra] of [
    ['v1', {version: 1}],
    ['v2 default tile', {version: 2}],
    ['v2 128x128x16', {version: 2, tile: {bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, group: 8}}],
    ['v2 128x64x16', {version: 2, tile: {bm: 128, bn: 64, bk: 16, tm: 8, tn: 4, group: 8}}],
    ['v2 256x128x8 unrolled', {version: 2, tile: {bm: 256, bn: 128, bk: 8, tm: 16, tn: 8, group: 8, unroll: true}}],
    ['v2 128x128x16 unrolled', {version: 2, tile: {bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, group: 8, unroll: true}}],
  ] as const) {
    for (const [transA, transB] of [[false, false], [true, false], [false, true]]) {
      const p: MatmulVersionParams = {batch: 2, m: 256, n: 256, k: 96, transA, transB, broadcastB: transB, bias: true, ...extra}
      const inputs = [randomArray(2 * 256 * 96, 1), randomArray((p.broadcastB ? 1 : 2) * 256 * 96, 2), randomArray(256, 3)]
      await check(`matmul ${label} ${transA ? 'Aᵀ' : 'A'}${transB ? 'Bᵀ shared' : 'B'} 2x256x256x96`, matmulVersions, p, inputs, [2 * 256 * 256], 1e-5)
    }
  }
  // Version 3 runs x Wᵀ only: two row blocks of 8 and a part of one, a K off the 32 lanes.
  const p: MatmulVersionParams = {batch: 2, m: 19, n: 300, k: 2049, transA: false, transB: true, broadcastB: true, bias: true, version: 3}
  const inputs = [randomArray(2 * 19 * 2049, 1), randomArray(300 * 2049, 2), randomArray(300, 3)]
  await check('matmul v3 rows ABᵀ shared 2x19x300x2049', matmulVersions, p, inputs, [2 * 19 * 300], 1e-5)
}
