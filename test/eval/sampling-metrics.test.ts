import {describe, expect, it} from 'vitest'
import {extractAnswer} from '../../src/eval/answer-extraction.js'
import {majorityVote, NO_ANSWER, passAtK} from '../../src/eval/sampling-metrics.js'

/** Every k-subset of {0..n-1}, as arrays of indices. */
function subsets(n: number, k: number): number[][] {
  if (k === 0) return [[]]
  if (n < k) return []
  return [...subsets(n - 1, k), ...subsets(n - 1, k - 1).map((s) => [...s, n - 1])]
}

describe('pass@k (Chen et al. 2021)', () => {
  it('equals the fraction of k-subsets of the n samples that hold a correct one, on every small case', () => {
    for (let n = 1; n <= 9; n++) {
      for (let c = 0; c <= n; c++) {
        // The first c samples are the correct ones.
        for (let k = 1; k <= n; k++) {
          const all = subsets(n, k)
          const brute = all.filter((s) => s.some((i) => i < c)).length / all.length
          expect(passAtK(n, c, k)).toBeCloseTo(brute, 12)
        }
      }
    }
  })

  it('stays finite and in [0, 1] where the binomials overflow', () => {
    const p = passAtK(2000, 3, 1000)
    expect(p).toBeGreaterThan(0.87)
    expect(p).toBeLessThan(0.88) // 1 - (1/2)^3 roughly
    expect(passAtK(2000, 0, 1000)).toBe(0)
    expect(passAtK(2000, 1, 1)).toBeCloseTo(1 / 2000, 15)
  })

  it('refuses k above n and counts that do not fit', () => {
    expect(() => passAtK(4, 1, 5)).toThrow(RangeError)
    expect(() => passAtK(4, 5, 1)).toThrow(RangeError)
  })
})

describe('majority vote', () => {
  it('picks the most frequent answer', () => {
    expect(majorityVote(['3', '5', '5', '3', '5'])).toBe('5')
  })

  it('breaks a tie for the answer sampled first among the tied ones', () => {
    expect(majorityVote(['3', '5', '5', '3'])).toBe('3')
    expect(majorityVote(['7', '5', '3', '5', '3'])).toBe('5')
    expect(majorityVote(['9', '8'])).toBe('9')
  })

  it('counts samples without an answer as one more answer, "[invalid]", which can win', () => {
    expect(majorityVote([undefined, '4', undefined])).toBe(NO_ANSWER)
    expect(majorityVote([undefined, '4', '4'])).toBe('4')
    expect(majorityVote([])).toBeUndefined()
  })
})

describe('answer extraction', () => {
  const table: [string, string | undefined][] = [
    ['She has 3 + 4 = 7 apples.\n#### 7', '7'],
    ['#### 1,234', '1234'],
    ['The total is 1,234,567 dollars', '1234567'],
    ['#### -12', '-12'],
    ['It went down to -3 degrees', '-3'],
    ['#### 2.5', '2.5'],
    ['He paid $3.75 for it.', '3.75'],
    ['The answer is 42.', '42'],
    ['The answer is $1,000.', '1000'],
    ['costs -$5 now', '-5'],
    ['#### $18', '18'],
    ['#### 5.0', '5'],
    ['#### -0', '0'],
    ['10-3=7 so the last is 7', '7'],
    ['from 10-3', '3'],
    ['#### 8 and later 9', '8'],
    ['first 4 then #### 6 then 5', '6'],
    ['12 then 15', '15'],
    ['no number here', undefined],
    ['', undefined],
    ['####', undefined],
    // An answer line without a number falls back to the last number.
    ['#### none, but 11 is', '11'],
  ]
  it.each(table)('%j -> %s', (text, answer) => {
    expect(extractAnswer(text)).toBe(answer)
  })
})
