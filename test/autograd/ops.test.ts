import {describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {add, attention, embedding, geluNew, layernorm, linear, logSoftmax, matmul, mean, mul, neg, negSoftplus, norm, repeat, rmsnorm, rope, scale, sigmoid, silu, softplus, sub, sum, swiglu, tanh, exp} from '../../src/engine/ops.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import {Rng} from '../helpers/random.js'
import {floats, gradCheck, ints} from './gradcheck.js'

/** Finite-difference checks (float64, CPU twins) of every op's backward, on small odd shapes. */

describe('gradients of matmul and linear', () => {
  const cases: [string, boolean, boolean, number[], number[]][] = [
    ['plain', false, false, [2, 3, 5], [2, 5, 4]],
    ['transA', true, false, [2, 5, 3], [2, 5, 4]],
    ['transB', false, true, [2, 3, 5], [2, 4, 5]],
    ['both', true, true, [2, 5, 3], [2, 4, 5]],
    ['shared B', false, false, [3, 2, 5], [5, 4]],
    ['shared B, transA', true, false, [3, 5, 2], [5, 4]],
    ['shared B, transB', false, true, [3, 2, 5], [4, 5]],
    ['shared B, both', true, true, [3, 5, 2], [4, 5]],
  ]
  it.each(cases)('matmul %s', async (_, transA, transB, aShape, bShape) => {
    const rng = new Rng(aShape.length * 7 + Number(transA) * 2 + Number(transB))
    await gradCheck(rng, [floats(rng, 'a', aShape), floats(rng, 'b', bShape)], ([a, b]) => matmul(a, b, {transA, transB}))
  })

  it('matmul with bias', async () => {
    const rng = new Rng(3)
    await gradCheck(rng, [floats(rng, 'a', [2, 3, 5]), floats(rng, 'b', [5, 4]), floats(rng, 'bias', [4])], ([a, b, bias]) => matmul(a, b, {bias}))
  })

  it('linear with bias over [B, T, C]', async () => {
    const rng = new Rng(4)
    await gradCheck(rng, [floats(rng, 'x', [2, 3, 5]), floats(rng, 'w', [7, 5]), floats(rng, 'b', [7])], ([x, w, b]) => linear(x, w, b))
  })
})

describe('gradients of elementwise ops', () => {
  const binaries: [string, (a: Tensor, b: Tensor) => Tensor][] = [['add', add], ['sub', sub], ['mul', mul]]
  it.each(binaries)('%s, same size and broadcast', async (_, op) => {
    const rng = new Rng(5)
    await gradCheck(rng, [floats(rng, 'a', [3, 4]), floats(rng, 'b', [3, 4])], ([a, b]) => op(a, b))
    await gradCheck(rng, [floats(rng, 'a', [3, 2, 5]), floats(rng, 'b', [5])], ([a, b]) => op(a, b))
  })

  const unaries: [string, (x: Tensor) => Tensor, number][] = [
    ['silu', silu, 4],
    ['gelu_new', geluNew, 4],
    ['softplus', softplus, 6],
    ['neg_softplus', negSoftplus, 6],
    ['sigmoid', sigmoid, 5],
    ['exp', exp, 2],
    ['tanh', tanh, 3],
    ['neg', neg, 1],
    ['scale', (x) => scale(x, -1.7), 1],
  ]
  it.each(unaries)('%s', async (_, op, range) => {
    const rng = new Rng(6)
    await gradCheck(rng, [floats(rng, 'x', [4, 7], range)], ([x]) => op(x))
  })

  it('softplus above its linear threshold', async () => {
    const rng = new Rng(7)
    await gradCheck(rng, [floats(rng, 'x', [9], 3, 24)], ([x]) => softplus(x))
  })

  it('swiglu', async () => {
    const rng = new Rng(8)
    await gradCheck(rng, [floats(rng, 'gate', [3, 5], 4), floats(rng, 'up', [3, 5])], ([g, u]) => swiglu(g, u))
  })
})

describe('gradients of norms', () => {
  it('rmsnorm', async () => {
    const rng = new Rng(9)
    await gradCheck(rng, [floats(rng, 'x', [2, 3, 7]), floats(rng, 'w', [7], 0.5, 1)], ([x, w]) => rmsnorm(x, w, 1e-5))
  })

  it('layernorm', async () => {
    const rng = new Rng(10)
    await gradCheck(rng, [floats(rng, 'x', [5, 6]), floats(rng, 'w', [6], 0.5, 1), floats(rng, 'b', [6])], ([x, w, b]) => layernorm(x, w, b, 1e-5))
  })
})

describe('gradients of embedding, rope and attention', () => {
  it('embedding, with repeated ids', async () => {
    const rng = new Rng(11)
    await gradCheck(rng, [ints('ids', [2, 4], [3, 0, 3, 5, 1, 3, 0, 6]), floats(rng, 'table', [7, 5])], ([ids, table]) => embedding(ids, table))
  })

  it.each([false, true])('rope, partial rotary, inverse %s', async (inverse) => {
    const rng = new Rng(12)
    const seq = 5
    const angles = Array.from({length: seq * 3}, (_, i) => 0.37 * i + 0.1)
    const cos = {name: 'cos', shape: [seq, 3], data: Float64Array.from(angles, Math.cos), grad: false}
    const sin = {name: 'sin', shape: [seq, 3], data: Float64Array.from(angles, Math.sin), grad: false}
    await gradCheck(rng, [floats(rng, 'x', [2, seq, 3, 8]), cos, sin], ([x, c, s]) => rope(x, c, s, 6, inverse))
  })

  const shapes: [string, number, number, number, number, boolean][] = [
    ['MHA', 4, 4, 2, 2, false],
    ['GQA', 5, 5, 4, 2, false],
    ['GQA, keys past the queries (decode)', 3, 6, 6, 2, false],
    ['GQA with a head mask', 5, 5, 4, 1, true],
  ]
  it.each(shapes)('attention %s', async (_, tq, tk, hq, hkv, masked) => {
    const rng = new Rng(13 + tq + hq)
    const d = 3
    const inputs = [floats(rng, 'q', [2, tq, hq, d], 1.5), floats(rng, 'k', [2, tk, hkv, d], 1.5), floats(rng, 'v', [2, tk, hkv, d])]
    if (masked) inputs.push({name: 'mask', shape: [hq], data: Float64Array.from({length: hq}, (_, h) => (h === 1 ? 0 : 0.5 + h)), grad: false})
    await gradCheck(rng, inputs, ([q, k, v, m]) => attention(q, k, v, {headMask: m, returnProbs: true}).out)
  })
})

describe('gradients of reductions', () => {
  it.each([undefined, 0, 1, -1])('sum and mean over dim %s', async (dim) => {
    const rng = new Rng(14)
    await gradCheck(rng, [floats(rng, 'x', [3, 4, 5])], ([x]) => sum(x, dim))
    await gradCheck(rng, [floats(rng, 'x', [3, 4, 5])], ([x]) => mean(x, dim))
  })

  it('norm over the last dimension', async () => {
    const rng = new Rng(15)
    await gradCheck(rng, [floats(rng, 'x', [3, 2, 6])], ([x]) => norm(x))
  })

  it('repeat', async () => {
    const rng = new Rng(16)
    await gradCheck(rng, [floats(rng, 'x', [2, 3])], ([x]) => repeat(x, 4))
  })

  it('logSoftmax', async () => {
    const rng = new Rng(18)
    await gradCheck(rng, [floats(rng, 'x', [2, 3, 5])], ([x]) => logSoftmax(x))
  })

  it('repeat at dim 1 copies each row in place', async () => {
    const x = fromArray(new CpuBackend({description: 'cpu (tests)'}), Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3])
    const out = repeat(x, 2, 1)
    expect(out.shape).toEqual([2, 2, 3])
    expect([...(await out.toFloat32())]).toEqual([1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6])
  })

  it.each([1, 2])('repeat over a new dimension at %i', async (dim) => {
    const rng = new Rng(17)
    await gradCheck(rng, [floats(rng, 'x', [2, 3])], ([x]) => repeat(x, 4, dim))
  })
})
