import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * Pieces shared by the backward passes of the chunked SSD and of the materialised matrix.
 *
 * The gradient of the log-decays. Write A_t for the log-decay summed from the start of the
 * sequence; every weight exp(A_t - A_s) couples output row t to input column s, so
 *   ∂L/∂A_t = Σ_s ∂L/∂M[t,s]·M[t,s] - Σ_t' ∂L/∂M[t',t]·M[t',t] = dC_t·C_t - dB_t·B_t   (per head)
 * plus <d final state, final state> at t = T-1 when the final state has a gradient. Since
 * A_t = Σ_{k<=t} dA_k, d dA_k = Σ_{t>=k} ∂L/∂A_t: a reverse cumsum of these terms (kernels/cumsum.ts).
 *   dCh, dBh: [B, T, H, N] per-head gradients; C, B: [B, T, G, N]
 *   dFinal, final: [B, H, P·N] (when `final`)
 *   out: [B, T, H]
 */
export interface DecayGradParams {
  batch: number
  seq: number
  heads: number
  groups: number
  stateDim: number
  /** P·N, the size of one head's state (used when `final`). */
  stateSize: number
  final: boolean
}

const decayFields = (p: DecayGradParams): UniformFields => [
  ['count', p.batch * p.seq * p.heads],
  ['seq', p.seq],
  ['heads', p.heads],
  ['groups', p.groups],
  ['stateDim', p.stateDim],
  ['stateSize', p.stateSize],
]

export const ssdDecayGradTerms: Kernel<DecayGradParams> = {
  name: 'ssd_decay_grad_terms',
  cpu: (p, [dCh, C, dBh, B, dFinal, final], [out]) => {
    const {batch, seq: T, heads: H, groups: G, stateDim: N, stateSize} = p
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < T; t++) {
        for (let h = 0; h < H; h++) {
          const perHead = ((b * T + t) * H + h) * N
          const perGroup = ((b * T + t) * G + Math.floor(h / (H / G))) * N
          let acc = 0
          for (let n = 0; n < N; n++) acc += dCh[perHead + n] * C[perGroup + n] - dBh[perHead + n] * B[perGroup + n]
          if (p.final && t === T - 1) {
            for (let e = 0; e < stateSize; e++) acc += dFinal[(b * H + h) * stateSize + e] * final[(b * H + h) * stateSize + e]
          }
          out[(b * T + t) * H + h] = acc
        }
      }
    }
  },
  gpu: {
    key: (p) => (p.final ? 'final' : ''),
    code: (p) =>
      flatShader(
        bindings(['dCh: array<f32>', 'C: array<f32>', 'dBh: array<f32>', 'B: array<f32>', ...(p.final ? ['dFinal: array<f32>', 'finalState: array<f32>'] : [])], ['out: array<f32>'], decayFields(p)),
        `  let h = i % u.heads;
  let bt = i / u.heads;
  let perHead = i * u.stateDim;
  let perGroup = (bt * u.groups + h / (u.heads / u.groups)) * u.stateDim;
  var acc = 0.0;
  for (var n = 0u; n < u.stateDim; n++) { acc += dCh[perHead + n] * C[perGroup + n] - dBh[perHead + n] * B[perGroup + n]; }
${
  p.final
    ? `  if (bt % u.seq == u.seq - 1u) {
    let base = ((bt / u.seq) * u.heads + h) * u.stateSize;
    for (var e = 0u; e < u.stateSize; e++) { acc += dFinal[base + e] * finalState[base + e]; }
  }`
    : ''
}
  out[i] = acc;`,
      ),
    dispatch: (p) => flatDispatch(p.batch * p.seq * p.heads, decayFields(p)),
  },
}

/**
 * Sum per-head gradients of a group-shared operand (B or C) over the heads of each group.
 *   x: [rows, H, dim] -> out: [rows, G, dim], out[r, g] = Σ_{h in group g} x[r, h]
 */
export interface GroupSumParams {
  rows: number
  heads: number
  groups: number
  dim: number
}

const groupSumFields = (p: GroupSumParams): UniformFields => [
  ['count', p.rows * p.groups * p.dim],
  ['heads', p.heads],
  ['groups', p.groups],
  ['dim', p.dim],
]

export const ssdGroupSum: Kernel<GroupSumParams> = {
  name: 'ssd_group_sum',
  cpu: (p, [x], [out]) => {
    const {rows, heads: H, groups: G, dim} = p
    const per = H / G
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < G; g++) {
        for (let d = 0; d < dim; d++) {
          let acc = 0
          for (let h = g * per; h < (g + 1) * per; h++) acc += x[(r * H + h) * dim + d]
          out[(r * G + g) * dim + d] = acc
        }
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(
        bindings(['x: array<f32>'], ['out: array<f32>'], groupSumFields(p)),
        `  let d = i % u.dim;
  let rg = i / u.dim;
  let per = u.heads / u.groups;
  let first = ((rg / u.groups) * u.heads + (rg % u.groups) * per) * u.dim + d;
  var acc = 0.0;
  for (var k = 0u; k < per; k++) { acc += x[first + k * u.dim]; }
  out[i] = acc;`,
      ),
    dispatch: (p) => flatDispatch(p.rows * p.groups * p.dim, groupSumFields(p)),
  },
}
