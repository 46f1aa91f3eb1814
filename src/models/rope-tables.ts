import type {RopeScaling} from './config.js'

/**
 * Inverse frequencies of rotary embeddings, with the scalings transformers implements
 * (`_compute_default_rope_parameters`, `_compute_linear_scaling_rope_parameters`,
 * `_compute_llama3_parameters` in modeling_rope_utils.py).
 */
export function inverseFrequencies(theta: number, rotaryDim: number, scaling: RopeScaling): Float64Array {
  const half = rotaryDim / 2
  const inv = new Float64Array(half)
  // transformers computes inv_freq in float32; round the same way so angles match at long positions.
  for (let i = 0; i < half; i++) inv[i] = Math.fround(1 / theta ** ((2 * i) / rotaryDim))
  if (scaling.type === 'linear') for (let i = 0; i < half; i++) inv[i] /= scaling.factor
  if (scaling.type === 'llama3') {
    const {factor, lowFreqFactor, highFreqFactor, originalMaxPositions} = scaling
    const lowWavelen = originalMaxPositions / lowFreqFactor
    const highWavelen = originalMaxPositions / highFreqFactor
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i]
      if (wavelen > lowWavelen) inv[i] /= factor
      else if (wavelen >= highWavelen) {
        const smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
        inv[i] = (1 - smooth) * (inv[i] / factor) + smooth * inv[i]
      }
    }
  }
  return inv
}

/** cos and sin of position * frequency for positions start..start+length-1: each [length, rotaryDim/2]. */
export function ropeTables(inv: Float64Array, start: number, length: number): {cos: Float32Array; sin: Float32Array} {
  const half = inv.length
  const cos = new Float32Array(length * half)
  const sin = new Float32Array(length * half)
  for (let t = 0; t < length; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround((start + t) * Math.fround(inv[i]))
      cos[t * half + i] = Math.cos(angle)
      sin[t * half + i] = Math.sin(angle)
    }
  }
  return {cos, sin}
}
