import type {Kernel} from './kernel.js'
import {pendingGpu} from './pending.js'

/**
 * Causal softmax attention with grouped-query heads.
 *   q:     [batch, tq, hq, d]
 *   k, v:  [batch, tk, hkv, d]      query head h reads key/value head floor(h / (hq / hkv))
 *   mask:  [hq] (when `headMask`)   multiplies each head's output: 0 ablates the head
 *   out:   [batch, tq, hq, d]
 *   probs: [batch, hq, tq, tk] (when `returnProbs`), zero above the causal diagonal
 * Query row t sits at absolute position t + (tk - tq), so decoding with a cache of past keys
 * (tk > tq) uses the same kernel.
 */
export interface AttentionParams {
  batch: number
  tq: number
  tk: number
  hq: number
  hkv: number
  d: number
  scale: number
  headMask: boolean
  returnProbs: boolean
}

export const attention: Kernel<AttentionParams> = {
  name: 'attention',
  cpu: (p, inputs, outputs) => {
    const [q, k, v] = inputs
    const mask = p.headMask ? inputs[3] : undefined
    const [out, probs] = outputs
    const {batch, tq, tk, hq, hkv, d, scale} = p
    const group = hq / hkv
    const offset = tk - tq
    const row = new Float64Array(tk)
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < hq; h++) {
        const g = Math.floor(h / group)
        for (let t = 0; t < tq; t++) {
          const qo = ((b * tq + t) * hq + h) * d
          const last = t + offset
          let max = -Infinity
          for (let s = 0; s <= last; s++) {
            const ko = ((b * tk + s) * hkv + g) * d
            let dot = 0
            for (let i = 0; i < d; i++) dot += q[qo + i] * k[ko + i]
            row[s] = dot * scale
            if (row[s] > max) max = row[s]
          }
          let sum = 0
          for (let s = 0; s <= last; s++) {
            row[s] = Math.exp(row[s] - max)
            sum += row[s]
          }
          const headScale = mask ? mask[h] : 1
          const oo = ((b * tq + t) * hq + h) * d
          for (let i = 0; i < d; i++) out[oo + i] = 0
          for (let s = 0; s <= last; s++) {
            const w = row[s] / sum
            const vo = ((b * tk + s) * hkv + g) * d
            for (let i = 0; i < d; i++) out[oo + i] += w * v[vo + i]
          }
          for (let i = 0; i < d; i++) out[oo + i] *= headScale
          if (probs) {
            const po = ((b * hq + h) * tq + t) * tk
            for (let s = 0; s < tk; s++) probs[po + s] = s <= last ? row[s] / sum : 0
          }
        }
      }
    }
  },
  gpu: pendingGpu('attention'),
}
