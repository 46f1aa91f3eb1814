import type {ChunkMixParams} from '../../kernels/ssd-mix.js'
import {chunkCount} from '../../kernels/ssd-chunk.js'

/**
 * The CPU backend's fast chunk mix: the same sums, in the same order, as the reference loop in
 * kernels/ssd-mix.ts (so the results are the same to the last bit), with each (batch, head, chunk)
 * block's rows of Q, K, V and its state first gathered into contiguous Float64 buffers, and the
 * index arithmetic out of the inner loops: 3-3.4x the reference at a distillation student's
 * shapes, where the reference loop took a third of a CPU distillation step (BENCHMARKS.md).
 */
export function chunkMixFast(p: ChunkMixParams, [Qm, Km, Vm, acs, S]: Float32Array[], [out]: Float32Array[]): void {
  const {batch, seq: T, heads: H, chunk, q, k, v, anticausal} = p
  const K = chunkCount(p)
  const I = q.dim
  const J = v.dim
  const qRows = new Float64Array(chunk * I)
  const kRows = new Float64Array(chunk * I)
  const vRows = new Float64Array(chunk * J)
  const state = new Float64Array(I * J)
  const decay = new Float64Array(chunk)
  const acc = new Float64Array(J)
  const gather = (to: Float64Array, from: Float32Array, heads: number, head: number, dim: number, b: number, start: number, n: number): void => {
    for (let t = 0; t < n; t++) {
      const at = ((b * T + start + t) * heads + head) * dim
      for (let i = 0; i < dim; i++) to[t * dim + i] = from[at + i]
    }
  }
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      const qh = Math.floor(h / (H / q.heads))
      const kh = Math.floor(h / (H / k.heads))
      const vh = Math.floor(h / (H / v.heads))
      const base = (b * H + h) * T
      for (let c = 0; c < K; c++) {
        const start = c * chunk
        const n = Math.min(chunk, T - start)
        gather(qRows, Qm, q.heads, qh, I, b, start, n)
        gather(kRows, Km, k.heads, kh, I, b, start, n)
        gather(vRows, Vm, v.heads, vh, J, b, start, n)
        // The chunk's state as [i][j], whichever layout it is stored in.
        const at = ((b * H + h) * K + c) * I * J
        for (let i = 0; i < I; i++) {
          for (let j = 0; j < J; j++) state[i * J + j] = S[p.stateLayout === 'ij' ? at + i * J + j : at + j * I + i]
        }
        const last = acs[base + start + n - 1]
        for (let r = 0; r < n; r++) {
          const Ar = acs[base + start + r]
          const scale = Math.exp(anticausal ? last - Ar : Ar)
          const qr = r * I
          // State term, summed over i for each j in the reference's order.
          acc.fill(0)
          for (let i = 0; i < I; i++) {
            const qi = qRows[qr + i]
            const row = i * J
            for (let j = 0; j < J; j++) acc[j] += qi * state[row + j]
          }
          for (let j = 0; j < J; j++) acc[j] *= scale
          const [from, to] = anticausal ? [r, n] : [0, r + 1]
          for (let s = from; s < to; s++) decay[s] = Math.exp(anticausal ? acs[base + start + s] - Ar : Ar - acs[base + start + s])
          for (let s = from; s < to; s++) {
            let score = 0
            const ks = s * I
            for (let i = 0; i < I; i++) score += qRows[qr + i] * kRows[ks + i]
            score *= decay[s]
            const vs = s * J
            for (let j = 0; j < J; j++) acc[j] += score * vRows[vs + j]
          }
          const o = ((b * T + start + r) * H + h) * J
          for (let j = 0; j < J; j++) out[o + j] = acc[j]
        }
      }
    }
  }
}
