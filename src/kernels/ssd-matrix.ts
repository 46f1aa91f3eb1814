import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * The SSD as a materialised mixing matrix (MOHAWK stage 1 compares it to attention
 * probabilities; y = M·x per head reproduces the scan):
 *   dA: [B, T, H] log-decays, B, C: [B, T, G, N] (head h reads group floor(h / (H / G)))
 *   M:  [B, H, T, T],  M[t, s] = (C_t · B_s) · exp(Σ_{s<k<=t} dA_k) for s <= t, 0 above
 * The decay of each entry is summed fresh along its column (no difference of long cumsums),
 * one GPU thread per column walking down the rows.
 */
export interface SsdMatrixParams {
  batch: number
  seq: number
  heads: number
  groups: number
  stateDim: number
}

const matrixFields = (p: SsdMatrixParams, count: number): UniformFields => [
  ['count', count],
  ['seq', p.seq],
  ['heads', p.heads],
  ['groups', p.groups],
  ['stateDim', p.stateDim],
]

export const ssdMatrix: Kernel<SsdMatrixParams> = {
  name: 'ssd_matrix',
  cpu: (p, [dA, Bm, Cm], [M]) => {
    const {batch, seq: T, heads: H, groups: G, stateDim: N} = p
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / G))
        const base = (b * H + h) * T * T
        for (let s = 0; s < T; s++) {
          let decay = 0
          for (let t = 0; t < T; t++) {
            if (t < s) {
              M[base + t * T + s] = 0
              continue
            }
            if (t > s) decay += dA[(b * T + t) * H + h]
            let dot = 0
            for (let n = 0; n < N; n++) dot += Cm[((b * T + t) * G + g) * N + n] * Bm[((b * T + s) * G + g) * N + n]
            M[base + t * T + s] = dot * Math.exp(decay)
          }
        }
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(
        bindings(['dA: array<f32>', 'Bm: array<f32>', 'Cm: array<f32>'], ['M: array<f32>'], matrixFields(p, 0)),
        `  let s = i % u.seq;
  let bh = i / u.seq;
  let b = bh / u.heads;
  let h = bh % u.heads;
  let g = h / (u.heads / u.groups);
  let N = u.stateDim;
  let base = bh * u.seq * u.seq;
  let bRow = ((b * u.seq + s) * u.groups + g) * N;
  var decay = 0.0;
  for (var t = 0u; t < u.seq; t++) {
    if (t < s) {
      M[base + t * u.seq + s] = 0.0;
      continue;
    }
    if (t > s) { decay += dA[(b * u.seq + t) * u.heads + h]; }
    let cRow = ((b * u.seq + t) * u.groups + g) * N;
    var dot = 0.0;
    for (var n = 0u; n < N; n++) { dot += Cm[cRow + n] * Bm[bRow + n]; }
    M[base + t * u.seq + s] = dot * exp(decay);
  }`,
      ),
    dispatch: (p) => {
      const count = p.batch * p.heads * p.seq
      return flatDispatch(count, matrixFields(p, count))
    },
  },
}

/**
 * Per-head gradients of B or C through the matrix, given dM [B, H, T, T]:
 *   side 'C': dCh[b, t, h] = Σ_{s<=t} dM[t, s] · exp(Σ_{s<k<=t} dA_k) · B_s     (walking s down from t)
 *   side 'B': dBh[b, s, h] = Σ_{t>=s} dM[t, s] · exp(Σ_{s<k<=t} dA_k) · C_t     (walking t up from s)
 *   other: the operand on the other side ([B, T, G, N]); out: [B, T, H, N], summed over groups by
 *   the caller. The log-decay gradient then follows from ssdDecayGradTerms.
 */
export interface SsdMatrixGradParams extends SsdMatrixParams {
  side: 'B' | 'C'
}

export const ssdMatrixGrad: Kernel<SsdMatrixGradParams> = {
  name: 'ssd_matrix_grad',
  cpu: (p, [dM, dA, other], [out]) => {
    const {batch, seq: T, heads: H, groups: G, stateDim: N} = p
    const acc = new Float64Array(N)
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / G))
        const base = (b * H + h) * T * T
        for (let row = 0; row < T; row++) {
          acc.fill(0)
          let decay = 0
          // side C: row = t, the walk goes over s = t, t-1, ..; side B: row = s, over t = s, s+1, ..
          for (let step = 0; step < T; step++) {
            const col = p.side === 'C' ? row - step : row + step
            if (col < 0 || col >= T) break
            if (p.side === 'B' && step > 0) decay += dA[(b * T + col) * H + h]
            const w = Math.exp(decay) * (p.side === 'C' ? dM[base + row * T + col] : dM[base + col * T + row])
            for (let n = 0; n < N; n++) acc[n] += w * other[((b * T + col) * G + g) * N + n]
            if (p.side === 'C') decay += dA[(b * T + col) * H + h]
          }
          for (let n = 0; n < N; n++) out[((b * T + row) * H + h) * N + n] = acc[n]
        }
      }
    }
  },
  gpu: {
    key: (p) => p.side,
    code: (p) => {
      const sideC = p.side === 'C'
      return flatShader(
        bindings(['dM: array<f32>', 'dA: array<f32>', 'other: array<f32>'], ['out: array<f32>'], matrixFields(p, 0)),
        `  let n = i % u.stateDim;
  let h = (i / u.stateDim) % u.heads;
  let bt = i / (u.stateDim * u.heads);
  let b = bt / u.seq;
  let row = bt % u.seq;
  let g = h / (u.heads / u.groups);
  let base = (b * u.heads + h) * u.seq * u.seq;
  var decay = 0.0;
  var acc = 0.0;
${
  sideC
    ? `  for (var col = i32(row); col >= 0; col--) {
    let s = u32(col);
    acc += exp(decay) * dM[base + row * u.seq + s] * other[((b * u.seq + s) * u.groups + g) * u.stateDim + n];
    decay += dA[(b * u.seq + s) * u.heads + h];
  }`
    : `  for (var t = row; t < u.seq; t++) {
    if (t > row) { decay += dA[(b * u.seq + t) * u.heads + h]; }
    acc += exp(decay) * dM[base + t * u.seq + row] * other[((b * u.seq + t) * u.groups + g) * u.stateDim + n];
  }`
}
  out[i] = acc;`,
      )
    },
    dispatch: (p) => {
      const count = p.batch * p.seq * p.heads * p.stateDim
      return flatDispatch(count, matrixFields(p, count))
    },
  },
}
