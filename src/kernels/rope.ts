import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * Rotary position embedding, half-split layout (transformers' `rotate_half`): within the first
 * `rotaryDim` features of each head, feature i pairs with i + rotaryDim/2. Features past
 * `rotaryDim` pass through (Phi's partial rotary).
 *   x:   [batch, seq, heads, headDim]
 *   cos, sin: [seq, rotaryDim/2], the angle of each position and frequency (built by `ropeTables`)
 *   out: like x
 * `inverse` rotates by the negative angle: the backward pass.
 */
export interface RopeParams {
  batch: number
  seq: number
  heads: number
  headDim: number
  rotaryDim: number
  inverse: boolean
}

const ropeUniforms = (p: RopeParams): UniformFields => [
  ['count', p.batch * p.seq * p.heads * p.headDim],
  ['seq', p.seq],
  ['heads', p.heads],
  ['headDim', p.headDim],
  ['half', p.rotaryDim / 2],
  ['sign', {f: p.inverse ? -1 : 1}],
]

export const rope: Kernel<RopeParams> = {
  name: 'rope',
  cpu: ({batch, seq, heads, headDim, rotaryDim, inverse}, [x, cos, sin], [out]) => {
    const half = rotaryDim / 2
    const sign = inverse ? -1 : 1
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < seq; t++) {
        for (let h = 0; h < heads; h++) {
          const o = ((b * seq + t) * heads + h) * headDim
          for (let i = 0; i < half; i++) {
            const c = cos[t * half + i]
            const s = sign * sin[t * half + i]
            const x1 = x[o + i]
            const x2 = x[o + i + half]
            out[o + i] = x1 * c - x2 * s
            out[o + i + half] = x2 * c + x1 * s
          }
          for (let i = rotaryDim; i < headDim; i++) out[o + i] = x[o + i]
        }
      }
    }
  },
  // One thread per output element; it reads its own feature and the one it pairs with.
  gpu: {
    key: () => '',
    code: (p) => flatShader(
      bindings(['x: array<f32>', 'cosT: array<f32>', 'sinT: array<f32>'], ['out: array<f32>'], ropeUniforms(p)),
      `  let c = i % u.headDim;
  let t = (i / (u.headDim * u.heads)) % u.seq;
  if (c >= 2u * u.half) { out[i] = x[i]; return; }
  let f = c % u.half;
  let cs = cosT[t * u.half + f];
  let sn = u.sign * sinT[t * u.half + f];
  if (c < u.half) { out[i] = x[i] * cs - x[i + u.half] * sn; }
  else { out[i] = x[i] * cs + x[i - u.half] * sn; }`,
    ),
    dispatch: (p) => flatDispatch(p.batch * p.seq * p.heads * p.headDim, ropeUniforms(p)),
  },
}
