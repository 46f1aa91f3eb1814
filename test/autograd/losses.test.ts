import {describe, expect, it} from 'vitest'
import {noGrad} from '../../src/engine/autograd.js'
import {crossEntropy, frobeniusLoss, klDivergence, l2Loss, softTargetCrossEntropy} from '../../src/engine/losses.js'
import {fromArray} from '../../src/engine/tensor.js'
import {Rng} from '../helpers/random.js'
import {F64Backend, floats, gradCheck, ints} from './gradcheck.js'

/** Finite-difference checks (float64) of the training losses, and their values against direct formulas. */

function softmax(row: number[]): number[] {
  const max = Math.max(...row)
  const e = row.map((v) => Math.exp(v - max))
  const s = e.reduce((a, b) => a + b, 0)
  return e.map((v) => v / s)
}

describe('cross-entropy losses', () => {
  it('hard-label cross-entropy: value and gradient, with an ignored row', async () => {
    const rng = new Rng(21)
    const logits = floats(rng, 'logits', [2, 3, 7], 3)
    const labels = [4, 0, -1, 6, 2, 2]
    await gradCheck(rng, [logits, ints('labels', [2, 3], labels)], ([l, y]) => crossEntropy(l, y, {count: 5}))
    const loss = noGrad(() => crossEntropy(fromArray(new F64Backend(), logits.data as never, [6, 7]), fromArray(new F64Backend(), Int32Array.from(labels), [6]), {count: 5}))
    let want = 0
    labels.forEach((y, r) => {
      if (y >= 0) want -= Math.log(softmax([...logits.data.slice(r * 7, r * 7 + 7)])[y])
    })
    expect((await loss.toArray())[0]).toBeCloseTo(want / 5, 12)
    expect(loss.shape).toEqual([])
  })

  it.each([1, 2.5])('soft-target cross-entropy and KL from teacher logits, T = %s', async (temperature) => {
    const rng = new Rng(22)
    const inputs = [floats(rng, 'student', [5, 9], 3), {...floats(rng, 'teacher', [5, 9], 3), grad: false}]
    await gradCheck(rng, inputs, ([s, t]) => softTargetCrossEntropy(s, t, {temperature}))
    await gradCheck(rng, inputs, ([s, t]) => klDivergence(s, t, {temperature}))
  })

  it('soft-target losses from teacher probabilities, with zeros', async () => {
    const rng = new Rng(23)
    const probs = new Float64Array(4 * 6)
    for (let r = 0; r < 4; r++) {
      const p = softmax([...rng.floats(6, 2)])
      p[r] = 0
      const s = p.reduce((a, b) => a + b, 0)
      p.forEach((v, c) => (probs[r * 6 + c] = v / s))
    }
    const inputs = [floats(rng, 'student', [4, 6], 3), {name: 'teacher', shape: [4, 6], data: probs, grad: false}]
    await gradCheck(rng, inputs, ([s, t]) => softTargetCrossEntropy(s, t, {teacher: 'probs', temperature: 2}))
    await gradCheck(rng, inputs, ([s, t]) => klDivergence(s, t, {teacher: 'probs'}))
  })

  it('KL is cross-entropy minus the teacher entropy, and zero against itself', async () => {
    const rng = new Rng(24)
    const backend = new F64Backend()
    const s = fromArray(backend, Float64Array.from(rng.floats(3 * 5, 2)) as never, [3, 5])
    const t = fromArray(backend, Float64Array.from(rng.floats(3 * 5, 2)) as never, [3, 5])
    const [ce, kl, self] = await Promise.all([softTargetCrossEntropy(s, t), klDivergence(s, t), klDivergence(s, s)].map((x) => x.toArray()))
    let entropy = 0
    for (let r = 0; r < 3; r++) for (const p of softmax([...(await t.toArray()).slice(r * 5, r * 5 + 5)])) entropy -= p * Math.log(p)
    expect(ce[0] - kl[0]).toBeCloseTo(entropy / 3, 12)
    expect(self[0]).toBeCloseTo(0, 12)
  })
})

describe('distance losses', () => {
  it('Frobenius loss over [B, H, M, N]: mean of per-matrix norms', async () => {
    const rng = new Rng(25)
    const a = floats(rng, 'a', [2, 3, 4, 5])
    const b = floats(rng, 'b', [2, 3, 4, 5])
    await gradCheck(rng, [a, b], ([x, y]) => frobeniusLoss(x, y))
    const backend = new F64Backend()
    const loss = await frobeniusLoss(fromArray(backend, a.data as never, a.shape), fromArray(backend, b.data as never, b.shape)).toArray()
    let want = 0
    for (let m = 0; m < 6; m++) {
      let ss = 0
      for (let i = m * 20; i < (m + 1) * 20; i++) ss += (a.data[i] - b.data[i]) ** 2
      want += Math.sqrt(ss) / 6
    }
    expect(loss[0]).toBeCloseTo(want, 12)
  })

  it('L2 loss per token over [B, T, C]', async () => {
    const rng = new Rng(26)
    await gradCheck(rng, [floats(rng, 'a', [2, 3, 7]), floats(rng, 'b', [2, 3, 7])], ([x, y]) => l2Loss(x, y))
  })
})
