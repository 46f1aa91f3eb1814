import {describe, it} from 'vitest'
import type {Tensor} from '../../src/engine/tensor.js'
import {createMixer, type MixerConfig} from '../../src/models/mixers/create.js'
import {Rng} from '../helpers/random.js'
import {gradCheck, randomInput, type GradInput} from '../ssm/helpers.js'
import {randomMixerWeights} from './helpers.js'

/**
 * Mixer gradients against central finite differences (CPU, float64), for the input and every
 * weight, through the chunked form, the materialised form and the mixing matrix itself. Shapes
 * stay under the CPU matmul's float32 fast path.
 */
const CASES: [string, MixerConfig][] = [
  ['discrete-mamba2 (z_bias, shared B/C heads)', {kind: 'discrete-mamba2', hiddenSize: 6, vHeads: 4, qkHeads: 2, headDim: 2, stateDim: 3, convWidth: 4, convBias: true, bias: false, chunk: 3}],
  ['discrete-mamba2 (biases)', {kind: 'discrete-mamba2', hiddenSize: 5, vHeads: 2, qkHeads: 2, headDim: 3, stateDim: 2, convWidth: 3, convBias: true, bias: true, chunk: 4}],
  ['mamba2 (MambaInLlama layout, per-head norm)', {kind: 'mamba2', hiddenSize: 6, heads: 4, headDim: 2, stateDim: 2, xHeads: 2, bGroups: 2, cGroups: 4, normGroups: 4, normEps: 1e-5, convWidth: 4, convBias: true, bias: true, chunk: 3}],
  ['mamba2 (transformers layout)', {kind: 'mamba2', hiddenSize: 5, heads: 3, headDim: 3, stateDim: 3, xHeads: 3, bGroups: 1, cGroups: 1, normGroups: 1, normEps: 1e-5, convWidth: 4, convBias: true, bias: false, chunk: 4}],
  ['mamba3 SISO (output norm)', {kind: 'mamba3', hiddenSize: 5, heads: 2, headDim: 2, stateDim: 4, groups: 1, mimoRank: 1, rotaryAngles: 2, aFloor: 1e-4, outNorm: true, normEps: 1e-5, bias: false, chunk: 3}],
  ['mamba3 MIMO rank 2 (biases)', {kind: 'mamba3', hiddenSize: 4, heads: 2, headDim: 2, stateDim: 4, groups: 2, mimoRank: 2, rotaryAngles: 1, aFloor: 1e-4, outNorm: false, normEps: 1e-5, bias: true, chunk: 3}],
]

function inputsFor(rng: Rng, cfg: MixerConfig): GradInput[] {
  const weights = [...randomMixerWeights(rng, cfg)].map(([name, w]) => ({name, shape: w.shape, data: w.data}))
  return [randomInput(rng, 'u', [1, 7, cfg.hiddenSize]), ...weights]
}

function build(cfg: MixerConfig, inputs: GradInput[], ts: Tensor[]) {
  return createMixer(cfg, new Map(inputs.slice(1).map((inp, i) => [inp.name, ts[i + 1]])), ts[0].backend)
}

describe('mixer gradients match finite differences (CPU, float64)', () => {
  it.each(CASES)('%s: chunked form', async (_, cfg) => {
    const rng = new Rng(21)
    const inputs = inputsFor(rng, cfg)
    await gradCheck(rng, inputs, (ts) => build(cfg, inputs, ts).forward(ts[0]).out, {samples: 8})
  })

  it.each(CASES)('%s: materialised form and mixing matrix', async (_, cfg) => {
    const rng = new Rng(22)
    const inputs = inputsFor(rng, cfg)
    await gradCheck(rng, inputs, (ts) => build(cfg, inputs, ts).forwardMaterialized(ts[0]), {samples: 6})
    // The matrix does not depend on the output side (z, norm, out_proj): leave those out.
    const matrixInputs = inputs.map((inp) => ({...inp, grad: !/^(out_proj|norm|z_bias|mimo_)/.test(inp.name)}))
    await gradCheck(rng, matrixInputs, (ts) => build(cfg, matrixInputs, ts).mixingMatrix(ts[0]), {samples: 6})
  })
})
