import type {Kernel} from './kernel.js'
import {pendingGpu} from './pending.js'

/**
 * Row norms over the last dimension, statistics in f32.
 *   rmsnorm:   y = x / sqrt(mean(x^2) + eps) * w                 (Llama)
 *   layernorm: y = (x - mean) / sqrt(var + eps) * w + b           (Phi)
 * Inputs x: [rows, cols], w: [cols], b: [cols]; output y: [rows, cols].
 */
export interface NormParams {
  rows: number
  cols: number
  eps: number
}

export const rmsnorm: Kernel<NormParams> = {
  name: 'rmsnorm',
  cpu: ({rows, cols, eps}, [x, w], [y]) => {
    for (let r = 0; r < rows; r++) {
      const o = r * cols
      let ss = 0
      for (let c = 0; c < cols; c++) ss += x[o + c] * x[o + c]
      const inv = 1 / Math.sqrt(ss / cols + eps)
      for (let c = 0; c < cols; c++) y[o + c] = x[o + c] * inv * w[c]
    }
  },
  gpu: pendingGpu('rmsnorm'),
}

export const layernorm: Kernel<NormParams> = {
  name: 'layernorm',
  cpu: ({rows, cols, eps}, [x, w, b], [y]) => {
    for (let r = 0; r < rows; r++) {
      const o = r * cols
      let mean = 0
      for (let c = 0; c < cols; c++) mean += x[o + c]
      mean /= cols
      let v = 0
      for (let c = 0; c < cols; c++) v += (x[o + c] - mean) ** 2
      const inv = 1 / Math.sqrt(v / cols + eps)
      for (let c = 0; c < cols; c++) y[o + c] = (x[o + c] - mean) * inv * w[c] + b[c]
    }
  },
  gpu: pendingGpu('layernorm'),
}
