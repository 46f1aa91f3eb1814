import type {Backend} from '../../src/backend/backend.js'
import {empty, type Tensor} from '../../src/engine/tensor.js'
import {castF16, packedWords, packF16} from '../../src/kernels/f16.js'
import type {Kernel} from '../../src/kernels/kernel.js'
import {matmulF16, pickF16Version, tensorCoreDirect, tensorCoreMultiple, tensorCoreStaged, tensorCoreSupport, unpackedGpu, type MatmulF16Params, type TensorCores} from '../../src/kernels/matmul-f16.js'
import {versioned} from '../../src/kernels/wgsl.js'
import {instance, random, randomArray} from '../../bench/cases.js'
import type {BenchCase} from '../../bench/runner.js'
import type {Checker} from './checks.js'

/**
 * The f16 matmul with its tensor-core version forced (`matmulF16` picks 6, else 2, else the
 * CUDA-core 1): 2 fragments straight from storage; 3 to 6 staged in workgroup memory: 3 half by
 * half, 4 in 16-byte words, 5 as 4 with two buffers, 6 as 4 with constant fragment offsets.
 */
export interface MatmulF16VersionParams extends MatmulF16Params {
  version?: 2 | 3 | 4 | 5 | 6
}

export const matmulF16Versions: Kernel<MatmulF16VersionParams> = {
  name: matmulF16.name,
  cpu: matmulF16.cpu,
  gpu: versioned<MatmulF16VersionParams>(
    {1: unpackedGpu, 2: tensorCoreDirect, 3: tensorCoreStaged(false, 1), 4: tensorCoreStaged(true, 1), 5: tensorCoreStaged(true, 2), 6: tensorCoreStaged(true, 1, true)},
    (p) => (p.tensorCores && p.version) || pickF16Version(p),
  ),
}

/** `--versions`: the CUDA-core path and every tensor-core version and tile tried (where the backend has them). */
export function matmulF16VersionCases(backend: Backend, n = 4096): BenchCase[] {
  const tc = tensorCoreSupport(backend)
  const variants: [string, TensorCores | undefined, MatmulF16VersionParams['version']][] = [['CUDA cores', undefined, undefined]]
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
      variants.push([`v${version} ${sm}x${sn} subgroups of ${fm}x${fn} fragments${version > 2 ? `, K ${stageK} a slice` : ''}`, {...tc, tile}, version])
    }
  }
  return variants.map(([label, tensorCores, version]) => ({
    name: `matmul f16 ${n}³ [${label}]`,
    make(b: Backend) {
      const halves: Tensor[] = [0, 1].map((i) => {
        const x = random(b, [n, n], 300 + i)
        const packed = empty(b, [packedWords(n * n)], 'i32')
        b.run(castF16, {n: n * n}, [x.storage], [packed.storage])
        x.dispose()
        return packed
      })
      const run = (): void => b.run(matmulF16Versions, {m: n, n, k: n, transB: false, tensorCores, version}, halves.map((h) => h.storage), [empty(b, [n * n]).storage])
      return instance('', halves, run, 2 * n ** 3, 8 * n * n)
    },
  }))
}

/** `--check`: the CUDA-core path and, where the device has tensor cores, every version with a few tiles. */
export async function checkMatmulF16Versions({device, check}: Checker): Promise<void> {
  const tc = tensorCoreSupport(device)
  const big = {subgroupsM: 2, subgroupsN: 2, fragmentsM: 4, fragmentsN: 4}
  const variants: Pick<MatmulF16VersionParams, 'tensorCores' | 'version'>[] = [{}]
  if (tc) {
    for (const version of [2, 3, 4, 5, 6] as const) variants.push({tensorCores: tc, version}, {tensorCores: {...tc, tile: {...big, fragmentsN: 2}}, version})
    // K 64 a slice fits the 48 KB of workgroup memory with one buffer only.
    for (const version of [4, 6] as const) variants.push({tensorCores: {...tc, tile: {...big, subgroupsN: 4, fragmentsN: 2, stageK: 64}}, version})
  }
  for (const {tensorCores, version} of variants) {
    for (const transB of [false, true]) {
      const [m, n, kk] = [256, 256, 128]
      const t = tensorCores?.tile
      const label = tensorCores && t ? `tensor cores v${version} ${t.subgroupsM}x${t.subgroupsN} subgroups of ${t.fragmentsM}x${t.fragmentsN} fragments, K ${t.stageK ?? 32}` : 'CUDA cores'
      await check(`matmul f16 ${label}${transB ? ' Bᵀ' : ''}`, matmulF16Versions, {m, n, k: kk, transB, tensorCores, version}, [packF16(randomArray(m * kk, 20)), packF16(randomArray(kk * n, 21))], [m * n], 1e-5)
    }
  }
  if (tc) await checkPaddedOperands(check, tc)
}

/**
 * The production kernel on operands laid out as ops.ts#halfProduct lays them (pack_f16_exact: zeros to
 * whole tiles in M, N and K; issue 20), at a small analogue of a stage-3 step's shapes (partial tiles in
 * all three, K not a multiple of the K slice): it must pick the staged version and run every K slice.
 */
async function checkPaddedOperands(check: Checker['check'], tc: TensorCores): Promise<void> {
  const [m, n, k] = [150, 160, 200]
  const tile = tensorCoreMultiple(tc)
  const [mp, np, kp] = [m, n, k].map((d) => Math.ceil(d / tile) * tile)
  /** rows × cols random values at the top left of a zero paddedRows × paddedCols matrix, packed. */
  const padded = (rows: number, cols: number, paddedRows: number, paddedCols: number, seed: number): Int32Array => {
    const values = randomArray(rows * cols, seed)
    const out = new Float32Array(paddedRows * paddedCols)
    for (let r = 0; r < rows; r++) out.set(values.subarray(r * cols, (r + 1) * cols), r * paddedCols)
    return packF16(out)
  }
  for (const transB of [false, true]) {
    const p: MatmulF16Params = {m: mp, n: np, k: kp, transB, tensorCores: tc}
    const b = transB ? padded(n, k, np, kp, 23) : padded(k, n, kp, np, 23)
    await check(`matmul f16 v${pickF16Version(p)} on ${m}x${n}x${k} padded to ${mp}x${np}x${kp}${transB ? ' Bᵀ' : ''}`, matmulF16, p, [padded(m, k, mp, kp, 22), b], [mp * np], 1e-5)
  }
}
