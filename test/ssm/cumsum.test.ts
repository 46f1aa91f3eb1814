import {describe, expect, it} from 'vitest'
import {cumsum, segsum} from '../../src/engine/ssm-ops.js'
import {fromArray} from '../../src/engine/tensor.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'
import {F64Backend, gradCheck, randomInput} from './helpers.js'

const backend = new F64Backend()

describe('cumsum on CPU', () => {
  it('inclusive, exclusive and reversed sums along a middle axis', async () => {
    const rng = new Rng(1)
    const [a, len, c] = [2, 5, 3]
    const x = rng.floats(a * len * c)
    const at = (i: number, t: number, j: number): number => x[(i * len + t) * c + j]
    for (const reverse of [false, true]) {
      for (const exclusive of [false, true]) {
        const want = new Float64Array(x.length)
        for (let i = 0; i < a; i++) {
          for (let j = 0; j < c; j++) {
            for (let t = 0; t < len; t++) {
              let acc = 0
              for (let s = 0; s < len; s++) {
                const included = reverse ? (exclusive ? s > t : s >= t) : exclusive ? s < t : s <= t
                if (included) acc += at(i, s, j)
              }
              want[(i * len + t) * c + j] = acc
            }
          }
        }
        const y = cumsum(fromArray(backend, x, [a, len, c]), 1, {reverse, exclusive})
        expectClose(await y.toArray(), want, `reverse=${reverse} exclusive=${exclusive}`, {rtol: 1e-12, atol: 1e-12})
      }
    }
  })

  it('gradients match finite differences (forward, reverse, exclusive, last axis)', async () => {
    const rng = new Rng(2)
    await gradCheck(rng, [randomInput(rng, 'x', [2, 6, 3])], ([x]) => cumsum(x, 1))
    await gradCheck(rng, [randomInput(rng, 'x', [2, 6, 3])], ([x]) => cumsum(x, 1, {reverse: true}))
    await gradCheck(rng, [randomInput(rng, 'x', [3, 7])], ([x]) => cumsum(x, -1, {exclusive: true}))
  })
})

describe('segsum on CPU', () => {
  it('equals cumsum differences below the diagonal, 0 on it and -inf above', async () => {
    const rng = new Rng(3)
    const [b, len, h] = [2, 6, 3]
    const a = rng.floats(b * len * h)
    const out = await segsum(fromArray(backend, a, [b, len, h]), 1).toArray()
    const want = new Float64Array(b * h * len * len)
    for (let i = 0; i < b; i++) {
      for (let j = 0; j < h; j++) {
        const cs = [0]
        for (let t = 0; t < len; t++) cs.push(cs[t] + a[(i * len + t) * h + j])
        for (let t = 0; t < len; t++) {
          for (let s = 0; s < len; s++) want[((i * h + j) * len + t) * len + s] = s > t ? -Infinity : cs[t + 1] - cs[s + 1]
        }
      }
    }
    expectClose(out, want, 'segsum [B, T, H] -> [B, H, T, T]', {rtol: 1e-12, atol: 1e-12})
  })

  it('takes time as the last axis too', async () => {
    const out = segsum(fromArray(backend, new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]), -1)
    expect(out.shape).toEqual([2, 3, 3])
    expect(Array.from(await out.toArray())).toEqual([0, -Infinity, -Infinity, 2, 0, -Infinity, 5, 3, 0, 0, -Infinity, -Infinity, 5, 0, -Infinity, 11, 6, 0])
  })

  it('gradient matches finite differences', async () => {
    const rng = new Rng(4)
    await gradCheck(rng, [randomInput(rng, 'a', [2, 7, 3])], ([a]) => segsum(a, 1))
    await gradCheck(rng, [randomInput(rng, 'a', [3, 5])], ([a]) => segsum(a, 1))
  })
})
