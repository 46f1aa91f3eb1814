import {describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {backward, withTape} from '../../src/engine/autograd.js'
import {concat, expand, narrow, pad, permute, repeatInterleave, split} from '../../src/engine/layout-ops.js'
import {mul, scale} from '../../src/engine/ops.js'
import {heavyTailDecay, rotatePairs, statMatch} from '../../src/engine/mixer-ops.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import type {HostArray} from '../../src/kernels/kernel.js'
import {cpuBackend, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'
import {gradCheck, randomInput} from '../ssm/helpers.js'

/** The layout ops (permute, narrow, pad, concat, expand) and statMatch: values, gradients, WebGPU. */
const cpu = cpuBackend()
const gpu = await webgpuBackend()

describe('layout ops: values', () => {
  it('permute, narrow, pad, concat and repeatInterleave move the right elements', async () => {
    const x = fromArray(cpu, Float32Array.from({length: 24}, (_, i) => i), [2, 3, 4])
    // permute [2,3,4] -> [4,2,3]: out[k,i,j] = x[i,j,k]
    const p = await permute(x, [2, 0, 1]).toArray()
    expect(p[1 * 6 + 1 * 3 + 2]).toBe(1 * 12 + 2 * 4 + 1)
    expect(Array.from(await narrow(x, 2, 1, 2).toArray()).slice(0, 4)).toEqual([1, 2, 5, 6])
    expect(Array.from(await narrow(x, 1, 2, 1).toArray())).toEqual([8, 9, 10, 11, 20, 21, 22, 23])
    const padded = await pad(narrow(x, 0, 1, 1), 0, 1, 3).toArray()
    expect(Array.from(padded.slice(0, 12)).every((v) => v === 0)).toBe(true)
    expect(padded[12]).toBe(12)
    expect(Array.from(padded.slice(24)).every((v) => v === 0)).toBe(true)
    const joined = await concat([narrow(x, 2, 0, 1), narrow(x, 2, 3, 1)], 2).toArray()
    expect(Array.from(joined.slice(0, 4))).toEqual([0, 3, 4, 7])
    const heads = fromArray(cpu, Float32Array.from([1, 2, 3, 4]), [1, 2, 2])
    expect(Array.from(await repeatInterleave(heads, 1, 2).toArray())).toEqual([1, 2, 1, 2, 3, 4, 3, 4])
  })

  it('statMatch gives a row the other row\'s mean and unbiased std', async () => {
    const rng = new Rng(1)
    const a = fromArray(cpu, rng.floats(2 * 9, 3), [2, 9])
    const s = fromArray(cpu, Float32Array.from(rng.floats(2 * 9), (v) => 5 + 0.2 * v), [2, 9])
    const out = await statMatch(a, s, 0).toArray()
    const sv = await s.toArray()
    for (let r = 0; r < 2; r++) {
      const stats = (v: ArrayLike<number>) => {
        const row = Array.from(v).slice(r * 9, r * 9 + 9)
        const m = row.reduce((x, y) => x + y, 0) / 9
        return [m, Math.sqrt(row.reduce((x, y) => x + (y - m) ** 2, 0) / 8)]
      }
      const [mo, so] = stats(out)
      const [ms, ss] = stats(sv)
      expect(mo).toBeCloseTo(ms, 5)
      expect(so).toBeCloseTo(ss, 5)
    }
  })
})

describe('Mamba-3 pointwise ops: values', () => {
  it('heavyTailDecay: −(1 + x) above 0, −1/(1 − x) below, floored', async () => {
    const x = fromArray(cpu, Float32Array.from([2, 0, -1, -3, -20000]), [5])
    const y = Array.from(await heavyTailDecay(x, 1e-4).toArray())
    expect(y.map((v) => Number(v.toFixed(6)))).toEqual([-3, -1, -0.5, -0.25, -0.0001])
  })

  it('rotatePairs turns pairs (2i, 2i+1) for i < S and keeps the rest', async () => {
    const x = fromArray(cpu, Float32Array.from([1, 0, 0, 1, 5]), [1, 1, 5])
    const y = Array.from(await rotatePairs(x, fromArray(cpu, Float32Array.from([Math.PI / 2, Math.PI]), [1, 2])).toArray())
    expect(y.map((v) => Number(v.toFixed(6)) + 0)).toEqual([0, 1, 0, -1, 5])
  })
})

describe('layout ops and statMatch: gradients (CPU, float64)', () => {
  it('permute, narrow, pad, concat, expand', async () => {
    const rng = new Rng(2)
    await gradCheck(rng, [randomInput(rng, 'x', [2, 3, 4])], ([x]) => permute(x, [1, 2, 0]))
    await gradCheck(rng, [randomInput(rng, 'x', [2, 5, 3])], ([x]) => narrow(x, 1, 1, 3))
    await gradCheck(rng, [randomInput(rng, 'x', [2, 2, 3])], ([x]) => pad(x, -1, 2, 6))
    await gradCheck(rng, [randomInput(rng, 'a', [2, 2, 3]), randomInput(rng, 'b', [2, 1, 3])], ([a, b]) => concat([a, b, a], 1))
    await gradCheck(rng, [randomInput(rng, 'x', [2, 3, 2])], ([x]) => expand(x, 2, 3))
  })

  it('split: every part used, in another order; and parts left unused (their gradient is zero)', async () => {
    const rng = new Rng(6)
    await gradCheck(rng, [randomInput(rng, 'x', [2, 5, 3])], ([x]) => {
      const [a, b, c] = split(x, 1, [1, 3, 1])
      return concat([c, scale(a, 2), mul(b, b)], 1)
    })
    await gradCheck(rng, [randomInput(rng, 'x', [2, 3, 6])], ([x]) => mul(split(x, -1, [2, 1, 3])[2], split(x, 2, [3, 0, 3])[0]))
    // More parts than one dispatch binds (MAX_PARTS): a gather or a copy each.
    await gradCheck(rng, [randomInput(rng, 'x', [2, 7, 2])], ([x]) => concat(split(x, 1, [1, 1, 1, 1, 1, 1, 1]).reverse(), 1))
  })

  it('split and concat are one dispatch each way: no pad, no add, no full-size temporaries', async () => {
    const x = fromArray(cpu, Float32Array.from({length: 2 * 9 * 3}, (_, i) => i), [2, 9, 3])
    x.requiresGrad = true
    const launched: string[] = []
    const run = cpu.run.bind(cpu)
    cpu.run = (kernel, ...rest) => (launched.push(kernel.name), run(kernel, ...rest))
    try {
      const {result: y} = withTape(() => {
        const [a, b, c] = split(x, 1, [2, 3, 4])
        return concat([scale(c, 1), scale(a, 1), scale(b, 1)], 1)
      })
      expect(Array.from(await y.toArray()).slice(0, 6)).toEqual([15, 16, 17, 18, 19, 20])
      launched.length = 0
      const [g] = backward(y, [x], {seed: fromArray(cpu, Float32Array.from({length: 54}, (_, i) => i), [2, 9, 3])})
      // The seed's rows 0-3 were c's (x's 5-8), 4-5 a's (x's 0-1), 6-8 b's (x's 2-4).
      expect(Array.from(await g.toArray()).slice(0, 27)).toEqual([12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    } finally {
      cpu.run = run
    }
    expect(launched.filter((n) => n !== 'unary_backward')).toEqual(['split_rows', 'join_rows'])
  })

  it('rotatePairs (x and angles, two ranks) and heavyTailDecay', async () => {
    const rng = new Rng(5)
    await gradCheck(rng, [randomInput(rng, 'x', [3, 2, 5]), randomInput(rng, 'theta', [3, 2], 3)], ([x, t]) => rotatePairs(x, t))
    await gradCheck(rng, [randomInput(rng, 'x', [4, 5], 3)], ([x]) => heavyTailDecay(x, 1e-4))
  })

  it('statMatch, both inputs', async () => {
    const rng = new Rng(3)
    await gradCheck(rng, [randomInput(rng, 'a', [3, 7], 2), randomInput(rng, 's', [3, 7], 0.5, 1)], ([a, s]) => statMatch(a, s))
  })
})

async function forwardBackward(backend: Backend, inputs: {data: Float32Array; shape: number[]}[], op: (ts: Tensor[]) => Tensor, seed: Float32Array): Promise<HostArray[]> {
  const ts = inputs.map(({data, shape}) => fromArray(backend, data, shape))
  for (const t of ts) t.requiresGrad = true
  const {result: out} = withTape(() => op(ts))
  const grads = backward(out, ts, {seed: fromArray(backend, seed, out.shape)})
  return Promise.all([out, ...grads].map((t) => t.toArray()))
}

describe.skipIf(!gpu)('layout ops and statMatch: WebGPU vs CPU', () => {
  async function compare(label: string, inputs: {data: Float32Array; shape: number[]}[], op: (ts: Tensor[]) => Tensor): Promise<void> {
    const probe = op(inputs.map(({data, shape}) => fromArray(cpu, data, shape)))
    const seed = new Rng(99).floats(probe.numel)
    const want = await forwardBackward(cpu, inputs, op, seed)
    const got = await forwardBackward(gpu!, inputs, op, seed)
    want.forEach((w, i) => expectClose(got[i], w, `${label} ${i === 0 ? 'output' : `gradient ${i - 1}`}`, {rtol: 1e-4, atol: 1e-5}))
  }

  it('every op, on shapes that cross workgroups', async () => {
    const rng = new Rng(4)
    const x = {data: rng.floats(3 * 37 * 5 * 7), shape: [3, 37, 5, 7]}
    await compare('permute', [x], ([t]) => permute(t, [0, 2, 1, 3]))
    await compare('narrow', [x], ([t]) => narrow(t, 1, 4, 30))
    await compare('pad', [x], ([t]) => pad(t, 3, 3, 12))
    await compare('concat', [x, x], ([a, b]) => concat([a, b], 2))
    await compare('split', [x], ([t]) => {
      const [a, b, c] = split(t, 1, [4, 30, 3])
      return concat([mul(c, c), a], 1)
    })
    await compare('split, six parts, one empty', [x], ([t]) => concat(split(t, 2, [1, 0, 1, 1, 1, 1]).reverse(), 2))
    await compare('split, three parts, one empty', [x], ([t]) => concat(split(t, 3, [3, 0, 4]).reverse(), 3))
    await compare('expand', [x], ([t]) => expand(t, 3, 3))
    const rows = {data: rng.floats(45 * 300, 2), shape: [45, 300]}
    const other = {data: Float32Array.from(rng.floats(45 * 300), (v) => 0.3 * v + 1), shape: [45, 300]}
    await compare('statMatch', [rows, other], ([a, s]) => statMatch(a, s))
    const pairs = {data: rng.floats(37 * 3 * 10), shape: [37, 3, 10]}
    await compare('rotatePairs', [pairs, {data: rng.floats(37 * 4, 4), shape: [37, 4]}], ([x, t]) => rotatePairs(x, t))
    await compare('heavyTailDecay', [{data: Float32Array.from(rng.floats(700, 3), (v, i) => (i % 97 === 0 ? -2e4 : v)), shape: [700]}], ([x]) => heavyTailDecay(x, 1e-4))
  })
})
