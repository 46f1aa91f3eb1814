import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * One recurrent SSD step (decode), per head h of group g = floor(h / (H / G)):
 *   next = exp(dA) · state + x ⊗ B,   y = next · C
 *   x: [B, H, P], dA: [B, H], B, C: [B, G, N], state: [B, H, P, N] -> y: [B, H, P], next: [B, H, P, N]
 * One GPU thread per (b, h, p) row of the state.
 */
export interface SsdStepParams {
  batch: number
  heads: number
  groups: number
  headDim: number
  stateDim: number
}

const fields = (p: SsdStepParams): UniformFields => [
  ['count', p.batch * p.heads * p.headDim],
  ['heads', p.heads],
  ['groups', p.groups],
  ['headDim', p.headDim],
  ['stateDim', p.stateDim],
]

export const ssdStep: Kernel<SsdStepParams> = {
  name: 'ssd_step',
  cpu: (p, [x, dA, Bm, Cm, state], [y, next]) => {
    const {batch, heads: H, groups: G, headDim: P, stateDim: N} = p
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < H; h++) {
        const decay = Math.exp(dA[b * H + h])
        const bc = (b * G + Math.floor(h / (H / G))) * N
        for (let i = 0; i < P; i++) {
          const row = ((b * H + h) * P + i) * N
          const xi = x[(b * H + h) * P + i]
          let acc = 0
          for (let n = 0; n < N; n++) {
            const v = decay * state[row + n] + xi * Bm[bc + n]
            next[row + n] = v
            acc += v * Cm[bc + n]
          }
          y[(b * H + h) * P + i] = acc
        }
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(
        bindings(['x: array<f32>', 'dA: array<f32>', 'Bm: array<f32>', 'Cm: array<f32>', 'state: array<f32>'], ['y: array<f32>', 'next: array<f32>'], fields(p)),
        `  let bh = i / u.headDim;
  let b = bh / u.heads;
  let h = bh % u.heads;
  let decay = exp(dA[bh]);
  let bc = (b * u.groups + h / (u.heads / u.groups)) * u.stateDim;
  let row = i * u.stateDim;
  let xi = x[i];
  var acc = 0.0;
  for (var n = 0u; n < u.stateDim; n++) {
    let v = decay * state[row + n] + xi * Bm[bc + n];
    next[row + n] = v;
    acc += v * Cm[bc + n];
  }
  y[i] = acc;`,
      ),
    dispatch: (p) => flatDispatch(p.batch * p.heads * p.headDim, fields(p)),
  },
}
