import type {Backend} from '../../src/backend/backend.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import type {HostArray} from '../../src/kernels/kernel.js'
import {mixerWeightShapes, type MixerConfig} from '../../src/models/mixers/create.js'
import type {Rng} from '../helpers/random.js'
import {F64Backend} from '../ssm/helpers.js'

/**
 * Random mixer weights that keep the SSM in a useful range: decays well inside (0, 1), Δ around
 * 0.3-1, projections of scale ~1/√fan-in, and D, norms and biases away from their initial values
 * so that a mistake in any of them shows.
 */
export function randomMixerWeights(rng: Rng, cfg: MixerConfig): Map<string, {shape: number[]; data: Float64Array}> {
  const out = new Map<string, {shape: number[]; data: Float64Array}>()
  for (const [name, shape] of mixerWeightShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1)
    const u = () => rng.next() * 2 - 1
    let gen: () => number
    if (name.endsWith('.weight') && name !== 'norm.weight' && !name.endsWith('norm.weight') && shape.length >= 2) {
      const fanIn = name === 'conv1d.weight' ? shape[2] : shape[1]
      gen = () => u() / Math.sqrt(fanIn)
    } else if (name === 'A_log') gen = () => Math.log(0.5 + rng.next())
    else if (name === 'dt_bias') gen = () => -0.5 + 0.5 * u()
    else if (name === 'D' || name.endsWith('norm.weight') || name.startsWith('mimo_')) gen = () => 1 + 0.3 * u()
    else gen = () => 0.2 * u()
    out.set(name, {shape, data: Float64Array.from({length: n}, gen)})
  }
  return out
}

/** The weights as tensors on `backend` (float32 or float64 storage, whatever the backend holds). */
export function weightTensors(backend: Backend, weights: Map<string, {shape: number[]; data: Float64Array}>): Map<string, Tensor> {
  return new Map([...weights].map(([name, w]) => [name, fromArray(backend, toHost(backend, w.data), w.shape)]))
}

/** Float64 data for the float64 test backend, float32 otherwise. */
export function toHost(backend: Backend, data: Float64Array): HostArray {
  return (backend instanceof F64Backend ? data : Float32Array.from(data)) as HostArray
}

/** Mixer settings the form, gradient and WebGPU tests share: odd sizes, grouped and per-head B/C, with and without biases. */
export const FORM_CASES: [string, MixerConfig][] = [
  ['discrete-mamba2, shared B/C heads, z_bias', {kind: 'discrete-mamba2', hiddenSize: 12, vHeads: 4, qkHeads: 2, headDim: 3, stateDim: 5, convWidth: 4, convBias: true, bias: false, chunk: 4}],
  ['discrete-mamba2, B/C per head, biases, no conv bias', {kind: 'discrete-mamba2', hiddenSize: 10, vHeads: 3, qkHeads: 3, headDim: 4, stateDim: 2, convWidth: 3, convBias: false, bias: true, chunk: 5}],
  ['mamba2, transformers layout (2 groups)', {kind: 'mamba2', hiddenSize: 8, heads: 4, headDim: 4, stateDim: 3, xHeads: 4, bGroups: 2, cGroups: 2, normGroups: 1, normEps: 1e-5, convWidth: 4, convBias: true, bias: false, chunk: 4}],
  ['mamba2, MambaInLlama layout (x and B grouped like GQA, per-head norm, biases)', {kind: 'mamba2', hiddenSize: 12, heads: 4, headDim: 3, stateDim: 3, xHeads: 2, bGroups: 2, cGroups: 4, normGroups: 4, normEps: 1e-5, convWidth: 4, convBias: true, bias: true, chunk: 3}],
  ['mamba3 SISO (shared B/C group, output norm)', {kind: 'mamba3', hiddenSize: 8, heads: 2, headDim: 3, stateDim: 6, groups: 1, mimoRank: 1, rotaryAngles: 2, aFloor: 1e-4, outNorm: true, normEps: 1e-5, bias: false, chunk: 4}],
  ['mamba3 MIMO rank 2 (B/C per head, biases)', {kind: 'mamba3', hiddenSize: 6, heads: 2, headDim: 2, stateDim: 4, groups: 2, mimoRank: 2, rotaryAngles: 1, aFloor: 1e-4, outNorm: false, normEps: 1e-5, bias: true, chunk: 3}],
]
