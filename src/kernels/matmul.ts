import {widenHalf} from './half-precision.js'
import type {HalfDType, Kernel} from './kernel.js'
import {matmulGpu} from './matmul-wgsl.js'

/**
 * Batched matmul with optional transposes, broadcast of B over the batch, and a bias row.
 *   A: [batch, M, K]  (transA: [batch, K, M])
 *   B: [batch|1, K, N] (transB: [batch|1, N, K])
 *   bias: [N]           (only when `bias`)
 *   C: [batch, M, N]
 * `linear(x, W, b)` is M = tokens, transB (W is [out, in] as PyTorch stores it), bias.
 */
export interface MatmulParams {
  batch: number
  m: number
  n: number
  k: number
  transA: boolean
  transB: boolean
  /** B has one matrix shared by every batch entry. */
  broadcastB: boolean
  bias: boolean
  /** B holds half-precision weights (16-bit patterns); A, bias and C stay f32, as does the sum. */
  bDtype?: HalfDType
}

export function matmulCpu(p: MatmulParams, inputs: ArrayLike<number>[], outputs: Float32Array[]): void {
  const [a, stored, bias] = inputs
  const c = outputs[0]
  // A half-precision Bᵀ (a linear layer's weight) is widened one row at a time; any other half B whole.
  if (p.bDtype && p.transB) return matmulHalfRowsCpu(p, a, stored as Uint16Array, bias, c)
  const b = p.bDtype ? widenHalf(p.bDtype, stored as Uint16Array) : stored
  const {m, n, k} = p
  for (let z = 0; z < p.batch; z++) {
    const aOff = z * m * k
    const bOff = p.broadcastB ? 0 : z * k * n
    const cOff = z * m * n
    // Strides let one loop serve all four transpose cases: A[i, kk] and B[kk, j].
    const aRow = p.transA ? 1 : k
    const aCol = p.transA ? m : 1
    const bRow = p.transB ? 1 : n
    const bCol = p.transB ? k : 1
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0
        let ai = aOff + i * aRow
        let bj = bOff + j * bCol
        for (let kk = 0; kk < k; kk++) {
          acc += a[ai] * b[bj]
          ai += aCol
          bj += bRow
        }
        c[cOff + i * n + j] = p.bias ? acc + bias[j] : acc
      }
    }
  }
}

/** `matmulCpu` with a half-precision Bᵀ [N, K]: row j of B widened once, then every row of A against it (same sums, same order). */
function matmulHalfRowsCpu(p: MatmulParams, a: ArrayLike<number>, bits: Uint16Array, bias: ArrayLike<number>, c: Float32Array): void {
  const {m, n, k} = p
  const row = new Float32Array(k)
  for (let z = 0; z < p.batch; z++) {
    const aOff = z * m * k
    const bOff = p.broadcastB ? 0 : z * k * n
    const cOff = z * m * n
    const aRow = p.transA ? 1 : k
    const aCol = p.transA ? m : 1
    for (let j = 0; j < n; j++) {
      widenHalf(p.bDtype!, bits.subarray(bOff + j * k, bOff + (j + 1) * k), row)
      for (let i = 0; i < m; i++) {
        let acc = 0
        let ai = aOff + i * aRow
        for (let kk = 0; kk < k; kk++) {
          acc += a[ai] * row[kk]
          ai += aCol
        }
        c[cOff + i * n + j] = p.bias ? acc + bias[j] : acc
      }
    }
  }
}

export const matmul: Kernel<MatmulParams> = {
  name: 'matmul',
  cpu: (p, inputs, outputs) => matmulCpu(p, inputs, outputs as Float32Array[]),
  gpu: matmulGpu,
}
