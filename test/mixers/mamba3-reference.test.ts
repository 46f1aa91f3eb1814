import {describe, expect, it} from 'vitest'
import {narrow} from '../../src/engine/layout-ops.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import {checkMamba3Config, type Mamba3Config} from '../../src/models/mixers/mamba3.js'
import {createMixer} from '../../src/models/mixers/create.js'
import {relativeError} from '../helpers/compare.js'
import {Rng} from '../helpers/random.js'
import {F64Backend} from '../ssm/helpers.js'
import {randomMixerWeights, weightTensors} from './helpers.js'
import {mamba3ReferenceSteps} from './mamba3-reference.js'

/**
 * hybridize's Mamba-3 (chunked scan and recurrent step) against a plain transcription of
 * state-spaces/mamba's step reference (./mamba3-reference.ts), on weights named as mamba_ssm names
 * them. With several B/C groups and rank > 1 this pins the in_proj layout of B and C: mamba_ssm
 * lays them out (rank, group, n); (group, rank, n) gave a relative error near 1. It also pins
 * MIMO's rotation pairs (n, n + N/2); SISO's (2i, 2i+1) gave 0.28 and 0.55 on the MIMO cases.
 */
const base = {kind: 'mamba3', aFloor: 1e-4, normEps: 1e-5, bias: false} as const
const CASES: [string, Mamba3Config][] = [
  ['MIMO, 2 groups, rank 2', {...base, hiddenSize: 8, heads: 4, headDim: 3, stateDim: 8, groups: 2, mimoRank: 2, rotaryAngles: 2, outNorm: false, chunk: 4}],
  ['MIMO, 2 groups, rank 3, output norm', {...base, hiddenSize: 6, heads: 4, headDim: 2, stateDim: 6, groups: 2, mimoRank: 3, rotaryAngles: 1, outNorm: true, chunk: 3}],
  ['SISO, 1 group', {...base, hiddenSize: 8, heads: 2, headDim: 4, stateDim: 8, groups: 1, mimoRank: 1, rotaryAngles: 2, outNorm: false, chunk: 4}],
]

async function values(t: Tensor): Promise<Float64Array> {
  return (await t.toArray()) as unknown as Float64Array
}

describe('Mamba-3 against mamba_ssm\'s step reference (float64)', () => {
  it.each(CASES)('%s', async (_, cfg) => {
    const backend = new F64Backend()
    const rng = new Rng(21)
    const weights = randomMixerWeights(rng, cfg)
    const mixer = createMixer(cfg, weightTensors(backend, weights), backend)
    const [Bn, T, C] = [2, 9, cfg.hiddenSize]
    const host = Float64Array.from(rng.floats(Bn * T * C))
    const u = fromArray(backend, host as unknown as Float32Array, [Bn, T, C])
    const ref = mamba3ReferenceSteps(cfg, weights, host, Bn, T)
    expect(ref.every(Number.isFinite)).toBe(true)

    const chunked = await values(mixer.forward(u).out)
    expect(relativeError(chunked, ref)).toBeLessThanOrEqual(1e-5)

    let state = mixer.zeroState(Bn)
    const stepped = new Float64Array(ref.length)
    for (let t = 0; t < T; t++) {
      const r = mixer.step(narrow(u, 1, t, 1).reshape([Bn, C]), state)
      state = r.state
      const o = await values(r.out)
      for (let i = 0; i < Bn; i++) stepped.set(o.subarray(i * C, (i + 1) * C), (i * T + t) * C)
    }
    expect(relativeError(stepped, ref)).toBeLessThanOrEqual(1e-5)
  })

  it('MIMO needs an even state size (it pairs n with n + N/2)', () => {
    expect(() => checkMamba3Config({...CASES[0][1], stateDim: 7})).toThrow(/MIMO needs an even state size/)
  })
})
