import {describe, it} from 'vitest'
import {ssdChunked, ssdMatrix} from '../../src/engine/ssm-ops.js'
import {Rng} from '../helpers/random.js'
import {concatFlat, gradCheck, randomInput, type GradInput} from './helpers.js'

/** Finite-difference checks of the chunked scan's adjoint and of the matrix backward, in float64. */
function ssdInputs(rng: Rng, [batch, seq, heads, headDim, groups, stateDim]: number[], withInit: boolean): GradInput[] {
  const list = [
    randomInput(rng, 'x', [batch, seq, heads, headDim]),
    randomInput(rng, 'dA', [batch, seq, heads], 0.4, -0.45),
    randomInput(rng, 'B', [batch, seq, groups, stateDim]),
    randomInput(rng, 'C', [batch, seq, groups, stateDim]),
  ]
  if (withInit) list.push(randomInput(rng, 'initialState', [batch, heads, headDim, stateDim]))
  return list
}

describe('SSD gradients match finite differences (CPU, float64)', () => {
  it('chunked: y seeded, T not a multiple of Q, grouped B and C', async () => {
    const rng = new Rng(1)
    await gradCheck(rng, ssdInputs(rng, [2, 11, 4, 3, 2, 5], false), ([x, dA, B, C]) => ssdChunked(x, dA, B, C, {chunk: 4}).y)
  })

  it('chunked: y seeded, with an initial state', async () => {
    const rng = new Rng(2)
    await gradCheck(rng, ssdInputs(rng, [1, 9, 2, 3, 1, 4], true), ([x, dA, B, C, h0]) => ssdChunked(x, dA, B, C, {chunk: 3, initialState: h0}).y)
  })

  it('chunked: y and the final state seeded together (decode hand-off), with an initial state', async () => {
    const rng = new Rng(3)
    await gradCheck(rng, ssdInputs(rng, [2, 7, 2, 2, 2, 3], true), ([x, dA, B, C, h0]) => {
      const {y, finalState} = ssdChunked(x, dA, B, C, {chunk: 3, initialState: h0})
      return concatFlat([y, finalState])
    })
  })

  it('chunked: only the final state seeded', async () => {
    const rng = new Rng(7)
    const inputs = ssdInputs(rng, [1, 8, 2, 2, 1, 3], true)
    inputs[3].grad = false // the final state does not depend on C
    await gradCheck(rng, inputs, ([x, dA, B, C, h0]) => ssdChunked(x, dA, B, C, {chunk: 3, initialState: h0}).finalState)
  })

  it('chunked: a single chunk longer than T, and chunks of one', async () => {
    const rng = new Rng(4)
    await gradCheck(rng, ssdInputs(rng, [1, 6, 2, 2, 1, 3], false), ([x, dA, B, C]) => ssdChunked(x, dA, B, C, {chunk: 8}).y)
    await gradCheck(rng, ssdInputs(rng, [1, 5, 2, 2, 2, 2], true), ([x, dA, B, C, h0]) => ssdChunked(x, dA, B, C, {chunk: 1, initialState: h0}).y)
  })

  it('matrix: dA, B and C, grouped', async () => {
    const rng = new Rng(5)
    const [, dA, B, C] = ssdInputs(rng, [2, 8, 4, 1, 2, 3], false)
    await gradCheck(rng, [dA, B, C], ([a, b, c]) => ssdMatrix(a, b, c))
  })

  it('matrix: one head per group', async () => {
    const rng = new Rng(6)
    const [, dA, B, C] = ssdInputs(rng, [1, 6, 3, 1, 3, 4], false)
    await gradCheck(rng, [dA, B, C], ([a, b, c]) => ssdMatrix(a, b, c))
  })
})
