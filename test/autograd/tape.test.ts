import {describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {backward, needsGrad, noGrad, withTape} from '../../src/engine/autograd.js'
import {add, linear, mul, silu, sum} from '../../src/engine/ops.js'
import {fromArray, scope, type Tensor} from '../../src/engine/tensor.js'

/** The tape's bookkeeping: accumulation, views, scopes, release, and what it refuses. */

const backend = new CpuBackend({description: 'cpu (tests)'})
const param = (data: number[], shape = [data.length]): Tensor => {
  const t = fromArray(backend, Float32Array.from(data), shape)
  t.requiresGrad = true
  return t
}
const values = async (t: Tensor): Promise<number[]> => [...(await t.toArray())]

describe('autograd tape', () => {
  it('accumulates the gradient of a tensor used several times: d/dx Σ(x·x + x) = 2x + 1', async () => {
    const x = param([1, -2, 3])
    const {result: loss} = withTape(() => sum(add(mul(x, x), x)))
    const [g] = backward(loss, [x])
    expect(await values(g)).toEqual([3, -3, 7])
  })

  it('a same-sized add or mul passes its gradient to b without a copy: no sum_axis in the backward', async () => {
    const [a, b, c] = [param([1, 2, 3]), param([4, 5, 6]), param([-1, 0, 2])]
    const {result: loss} = withTape(() => sum(mul(add(a, b), c)))
    const launched: string[] = []
    const run = backend.run.bind(backend)
    backend.run = (kernel, ...rest) => (launched.push(kernel.name), run(kernel, ...rest))
    try {
      const [ga, gb, gc] = backward(loss, [a, b, c])
      expect([await values(ga), await values(gb), await values(gc)]).toEqual([[-1, 0, 2], [-1, 0, 2], [5, 7, 9]])
    } finally {
      backend.run = run
    }
    // The sum's backward broadcasts the seed (broadcast_axis); nothing else reduces.
    expect(launched.filter((n) => n === 'sum_axis')).toEqual([])
  })

  it('gives a view of a parameter the parameter’s gradient, shaped like the parameter', async () => {
    const w = param([1, 2, 3, 4, 5, 6], [2, 3])
    const {result: loss} = withTape(() => sum(mul(w.reshape([6]), w.reshape([3, 2]))))
    const [g] = backward(loss, [w])
    expect(g.shape).toEqual([2, 3])
    expect(await values(g)).toEqual([2, 4, 6, 8, 10, 12])
  })

  it('keeps the activations a backward needs after the forward’s scope disposed them', async () => {
    const x = param([0.5, -1])
    const w = param([1, 2, 3, 4], [2, 2])
    const {result: loss} = withTape(() => scope(() => sum(silu(linear(x.reshape([1, 2]), w)))))
    const [gx] = backward(loss, [x])
    const sig = (v: number): number => 1 / (1 + Math.exp(-v))
    const dsilu = (v: number): number => sig(v) * (1 + v * (1 - sig(v)))
    const h = [0.5 * 1 - 2, 0.5 * 3 - 4]
    const want = [dsilu(h[0]) * 1 + dsilu(h[1]) * 3, dsilu(h[0]) * 2 + dsilu(h[1]) * 4]
    ;(await values(gx)).forEach((v, i) => expect(v).toBeCloseTo(want[i], 6))
  })

  it('releases the saved activations after backward, and refuses a second run', async () => {
    const x = param([1, 2])
    let hidden: Tensor | undefined
    const {result: loss} = withTape(() => {
      hidden = silu(x)
      return sum(mul(hidden, hidden))
    })
    hidden!.dispose()
    expect(backend.view(hidden!.storage).length).toBe(2)
    backward(loss, [x])
    expect(backend.view(hidden!.storage).length).toBe(0)
    expect(() => backward(loss, [x])).toThrow(/already run/)
  })

  it('runs twice with retainGraph, giving the same gradients', async () => {
    const x = param([0.3, -0.7])
    const {result: loss} = withTape(() => sum(silu(x)))
    const [a] = backward(loss, [x], {retainGraph: true})
    const [b] = backward(loss, [x])
    expect(await values(a)).toEqual(await values(b))
  })

  it('gives zeros to a parameter the loss does not reach, and one gradient to a parameter passed twice', async () => {
    const x = param([1, 2])
    const unused = param([5, 6, 7])
    const {result: loss} = withTape(() => sum(mul(x, x)))
    const [gx, gu, gx2] = backward(loss, [x, unused, x])
    expect(await values(gu)).toEqual([0, 0, 0])
    expect(await values(gx)).toEqual([2, 4])
    expect(await values(gx2)).toEqual([2, 4])
  })

  it('records nothing for constants or under noGrad', () => {
    const c = fromArray(backend, Float32Array.from([1, 2]), [2])
    const x = param([1, 2])
    withTape((tape) => {
      mul(c, c)
      expect(tape.size).toBe(0)
      noGrad(() => expect(needsGrad([x])).toBe(false))
      mul(x, c)
      expect(tape.size).toBe(1)
    })
    expect(needsGrad([x])).toBe(false)
    expect(() => backward(sum(c), [x])).toThrow(/withTape/)
  })

  it('starts from a given seed gradient', async () => {
    const x = param([1, 2, 3])
    const {result: y} = withTape(() => mul(x, x))
    const [g] = backward(y, [x], {seed: fromArray(backend, Float32Array.from([1, 0, -1]), [3])})
    expect(await values(g)).toEqual([2, 0, -6])
  })
})
