import type {Kernel} from './kernel.js'
import {pendingGpu} from './pending.js'

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
  gpu: pendingGpu('rope'),
}
