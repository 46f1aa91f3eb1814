import type {GpuProgram, Kernel} from './kernel.js'
import {chunkCount, type ChunkShape, type Operand} from './ssd-chunk.js'
import {COLS, ROWS, chunkMixFields} from './ssd-mix-tile.js'
import {chunkMixV2Wgsl} from './ssd-mix-v2.js'
import {uniformWords} from './wgsl.js'

/**
 * The output step of the chunked SSD, generic enough to serve the forward and three gradients.
 * For head h and row r in chunk c (letters as in ssd-chunk.ts; Acs the in-chunk log-decay cumsum):
 *   out[b, r, h, j] = Σ_{s in chunk c, s <= r} (Q_r · K_s) · exp(Acs_r - Acs_s) · V_s[j] + exp(Acs_r) · Σ_i Q_r[i] · S_c[i, j]
 * or, when `anticausal`, over s >= r with exp(Acs_s - Acs_r), and exp(Acs_last - Acs_r) on the state term.
 *   Q, K: [B, T, q.heads, q.dim] (k.dim = q.dim), V: [B, T, v.heads, v.dim], S: [B, H, K, ...] per chunk,
 *   stored [q.dim, v.dim] ('ij') or [v.dim, q.dim] ('ji'); out: [B, T, H, v.dim].
 * Uses (x, dy [.., H, P]; B, C [.., G, N]; Hin = state entering each chunk, D = gradient of the state
 * leaving it, both [B, H, K, P, N]):
 *   y  = mix(Q=C,  K=B,  V=x,  S=Hin 'ji')                 (diagonal blocks + state-to-output)
 *   dC = mix(Q=dy, K=x,  V=B,  S=Hin 'ij')                 per head, summed over a group after
 *   dx = mix(Q=B,  K=C,  V=dy, S=D 'ji', anticausal)
 *   dB = mix(Q=x,  K=dy, V=C,  S=D 'ij', anticausal)       per head
 * The WGSL is version 2 (ssd-mix-v2.ts); version 1, kept for the benchmark history, is in
 * dev/kernels/ssd-mix.ts.
 */
export interface ChunkMixParams extends ChunkShape {
  q: Operand
  k: Operand
  v: Operand
  anticausal: boolean
  stateLayout: 'ij' | 'ji'
}

/**
 * The reference loop, which the CPU backend's fast path (backend/cpu-ssd/chunk-mix-fast.ts: the
 * same sums in the same order, over gathered rows) is tested against.
 */
export function chunkMixCpu(p: ChunkMixParams, [Qm, Km, Vm, acs, S]: ArrayLike<number>[], [out]: Float32Array[]): void {
  const {batch, seq: T, heads: H, chunk, q, k, v, anticausal} = p
  const K = chunkCount(p)
  const acc = new Float64Array(v.dim)
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      const qh = Math.floor(h / (H / q.heads))
      const kh = Math.floor(h / (H / k.heads))
      const vh = Math.floor(h / (H / v.heads))
      const A = (t: number): number => acs[(b * H + h) * T + t]
      const qAt = (t: number, i: number): number => Qm[((b * T + t) * q.heads + qh) * q.dim + i]
      for (let c = 0; c < K; c++) {
        const start = c * chunk
        const end = Math.min(start + chunk, T)
        const state = (b * H + h) * K + c
        for (let r = start; r < end; r++) {
          const scale = Math.exp(anticausal ? A(end - 1) - A(r) : A(r))
          for (let j = 0; j < v.dim; j++) {
            let sum = 0
            for (let i = 0; i < q.dim; i++) {
              const at = p.stateLayout === 'ij' ? (state * q.dim + i) * v.dim + j : (state * v.dim + j) * q.dim + i
              sum += qAt(r, i) * S[at]
            }
            acc[j] = scale * sum
          }
          const [from, to] = anticausal ? [r, end] : [start, r + 1]
          for (let s = from; s < to; s++) {
            let score = 0
            for (let i = 0; i < q.dim; i++) score += qAt(r, i) * Km[((b * T + s) * k.heads + kh) * k.dim + i]
            score *= Math.exp(anticausal ? A(s) - A(r) : A(r) - A(s))
            for (let j = 0; j < v.dim; j++) acc[j] += score * Vm[((b * T + s) * v.heads + vh) * v.dim + j]
          }
          for (let j = 0; j < v.dim; j++) out[((b * T + r) * H + h) * v.dim + j] = acc[j]
        }
      }
    }
  }
}

export const ssdChunkMix: Kernel<ChunkMixParams> = {
  name: 'ssd_chunk_mix',
  cpu: (p, inputs, outputs) => chunkMixCpu(p, inputs, outputs as Float32Array[]),
  gpu: chunkMixProgram(chunkMixV2Wgsl),
}

/** Every version (dev/kernels/ssd-mix.ts keeps version 1) tiles the output alike: 64 rows x 64 columns of one (b, h, chunk) a workgroup. */
export function chunkMixProgram(code: (p: ChunkMixParams) => string): GpuProgram<ChunkMixParams> {
  return {
    key: (p) => `${p.anticausal ? 'anti' : 'causal'},${p.stateLayout}`,
    code,
    dispatch: (p) => ({
      workgroups: [Math.ceil(p.v.dim / COLS) * Math.ceil(p.chunk / ROWS), chunkCount(p), p.batch * p.heads],
      uniforms: uniformWords(chunkMixFields(p)),
    }),
  }
}
