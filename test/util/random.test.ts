import {describe, expect, it} from 'vitest'
import {Random} from '../../src/util/random.js'

const draw = (rng: Random, n: number) => Array.from({length: n}, () => rng.uint32())

describe('Random (xoshiro128** seeded by splitmix32)', () => {
  it('matches an independent implementation of the algorithm', () => {
    // Values from a direct Python transcription of the splitmix32 seeding chain + xoshiro128** (Blackman & Vigna).
    expect(draw(new Random(42), 5)).toEqual([1166618413, 3552401831, 1069663942, 2462357985, 2850669752])
    expect(draw(new Random(7, 3), 3)).toEqual([2655479937, 4144302330, 2765840797])
    expect(draw(new Random(2 ** 40 + 5), 3)).toEqual([340541005, 735292199, 2011539545])
    expect(draw(new Random(-3, 2, 1), 3)).toEqual([2841704779, 1045787846, 2182344795])
  })

  it('repeats under the same seed and differs across seeds and streams', () => {
    expect(draw(new Random(1), 20)).toEqual(draw(new Random(1), 20))
    expect(draw(new Random(1), 20)).not.toEqual(draw(new Random(2), 20))
    expect(draw(new Random(1, 0), 20)).not.toEqual(draw(new Random(1, 1), 20))
    expect(draw(new Random(1, 2), 20)).not.toEqual(draw(new Random(2, 1), 20))
    expect(draw(new Random(1, 2, 3), 20)).not.toEqual(draw(new Random(1, 3, 2), 20))
    expect(draw(new Random(-1), 20)).not.toEqual(draw(new Random(2 ** 32 - 1), 20))
  })

  it('draws int(n) uniformly in [0, n) and float() in [0, 1)', () => {
    const rng = new Random(3)
    const counts = new Array(7).fill(0)
    for (let i = 0; i < 70_000; i++) counts[rng.int(7)]++
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400)
    for (let i = 0; i < 10_000; i++) {
      const x = rng.float()
      expect(x >= 0 && x < 1).toBe(true)
    }
    expect(() => rng.int(0)).toThrow(RangeError)
    expect(() => rng.int(2.5)).toThrow(RangeError)
  })

  it('shuffles into a permutation and samples distinct elements without touching the input', () => {
    const rng = new Random(5)
    const items = Array.from({length: 50}, (_, i) => i)
    const shuffled = rng.shuffle([...items])
    expect(shuffled).not.toEqual(items)
    expect([...shuffled].sort((a, b) => a - b)).toEqual(items)

    const sample = rng.sampleWithoutReplacement(items, 20)
    expect(sample).toHaveLength(20)
    expect(new Set(sample).size).toBe(20)
    for (const x of sample) expect(items).toContain(x)
    expect(items).toEqual(Array.from({length: 50}, (_, i) => i))
    expect([...rng.sampleWithoutReplacement(items, 50)].sort((a, b) => a - b)).toEqual(items)
    expect(() => rng.sampleWithoutReplacement(items, 51)).toThrow(RangeError)
  })

  it('gives every element the same chance of being sampled', () => {
    const rng = new Random(9)
    const counts = new Array(10).fill(0)
    for (let i = 0; i < 20_000; i++) for (const x of rng.sampleWithoutReplacement([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3)) counts[x]++
    for (const c of counts) expect(Math.abs(c - 6_000)).toBeLessThan(300)
  })
})
