import {describe, expect, it} from 'vitest'
import {narrow} from '../../src/engine/layout-ops.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import {createMixer} from '../../src/models/mixers/create.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'
import {F64Backend} from '../ssm/helpers.js'
import {FORM_CASES, randomMixerWeights, weightTensors} from './helpers.js'

/**
 * Each mixer's three forms agree (float64 CPU): the chunked scan over the whole sequence, the
 * chunked scan in two pieces with the state handed over, the recurrent step token by token, and
 * the output computed through the materialised mixing matrix.
 */

const TOL = {rtol: 1e-10, atol: 1e-12}

async function values(t: Tensor): Promise<Float64Array> {
  return (await t.toArray()) as unknown as Float64Array
}

describe('mixer forms agree (CPU, float64)', () => {
  it.each(FORM_CASES)('%s', async (_, cfg) => {
    const backend = new F64Backend()
    const rng = new Rng(11)
    const mixer = createMixer(cfg, weightTensors(backend, randomMixerWeights(rng, cfg)), backend)
    const [Bn, T, C] = [2, 11, cfg.hiddenSize]
    const u = fromArray(backend, Float64Array.from(rng.floats(Bn * T * C)) as unknown as Float32Array, [Bn, T, C])
    const whole = await values(mixer.forward(u).out)
    expect(whole.every(Number.isFinite)).toBe(true)

    const cut = 6
    const first = mixer.forward(narrow(u, 1, 0, cut), {returnState: true})
    const second = mixer.forward(narrow(u, 1, cut, T - cut), {state: first.state})
    const pieces = new Float64Array(whole.length)
    const a = await values(first.out)
    const b = await values(second.out)
    for (let i = 0; i < Bn; i++) {
      pieces.set(a.subarray(i * cut * C, (i + 1) * cut * C), i * T * C)
      pieces.set(b.subarray(i * (T - cut) * C, (i + 1) * (T - cut) * C), (i * T + cut) * C)
    }
    expectClose(pieces, whole, 'chunked in two pieces', TOL)

    let state = mixer.zeroState(Bn)
    const stepped = new Float64Array(whole.length)
    for (let t = 0; t < T; t++) {
      const r = mixer.step(narrow(u, 1, t, 1).reshape([Bn, C]), state)
      state = r.state
      const o = await values(r.out)
      for (let i = 0; i < Bn; i++) stepped.set(o.subarray(i * C, (i + 1) * C), (i * T + t) * C)
    }
    expectClose(stepped, whole, 'recurrent steps', TOL)
    expectClose(await values(mixer.forwardMaterialized(u)), whole, 'through the mixing matrix', TOL)

    const M = mixer.mixingMatrix(u)
    expect(M.shape).toEqual([Bn, mixer.heads, T, T])
    const m = await values(M)
    expect(m[1]).toBe(0) // causal: row 0 sees only column 0
    expect(Math.abs(m[T])).toBeGreaterThan(0) // row 1 sees column 0
  })
})
