import {describe, expect, it} from 'vitest'
import {promptPatterns, type SegmentTokens} from '../../src/heads/attention-patterns.js'
import {headLabel, labelLetter} from '../../src/heads/head-labels.js'

/**
 * A prompt of 17 tokens: a header (0-1), three `key:value\n` segments of 4 tokens (2-5, 6-9, 10-13),
 * then the query (14-16). Attention matrices are built by hand, row by row.
 */
const seg: SegmentTokens = {first: [2, 6, 10], last: [5, 9, 13]}
const T = 17
const last = T - 1
const answer = 1

/** A causal attention matrix whose rows are uniform over the prefix, except the rows given. */
function attention(rows: Record<number, Record<number, number>>): (q: number, k: number) => number {
  return (q, k) => {
    if (k > q) return 0
    const row = rows[q]
    return row ? (row[k] ?? 0) : 1 / (q + 1)
  }
}

/** Row q spreading `mass` evenly over keys [from, to), the rest on token 0 (a sink). */
function spread(from: number, to: number, mass: number): Record<number, number> {
  const row: Record<number, number> = {0: 1 - mass}
  for (let k = from; k < to; k++) row[k] = (row[k] ?? 0) + mass / (to - from)
  return row
}

describe('Gather and Aggregate labels (Gather-and-Aggregate, arXiv 2504.18574)', () => {
  it('labels Gather a head whose segment-final tokens attend over their own segment', () => {
    const rows = Object.fromEntries(seg.last.map((end, s) => [end, spread(seg.first[s], end, 0.8)]))
    const scores = promptPatterns(attention(rows), seg, last, answer)
    expect(scores.gather).toBeCloseTo(0.8, 6)
    expect(headLabel(scores)).toBe('gather')
    expect(labelLetter(headLabel(scores))).toBe('G')
  })

  it('labels Aggregate a head whose last token rests on the answer segment\'s summary token', () => {
    const scores = promptPatterns(attention({[last]: {0: 0.3, [seg.last[answer]]: 0.7}}), seg, last, answer)
    expect(scores.aggregate).toBeCloseTo(0.7, 6)
    expect(scores.answerSegment).toBeCloseTo(0.7, 6)
    expect(headLabel(scores)).toBe('aggregate')
    expect(labelLetter(headLabel(scores))).toBe('A')
  })

  it('does not label a head whose last token looks at the answer line but not its summary token', () => {
    // Mass over the answer's key and value tokens: the line is found, no summary token is read.
    const scores = promptPatterns(attention({[last]: spread(seg.first[answer], seg.last[answer], 0.9)}), seg, last, answer)
    expect(scores.answerSegment).toBeCloseTo(0.9, 6)
    expect(scores.aggregate).toBe(0)
    expect(headLabel(scores)).toBeNull()
  })

  it('leaves a diffuse head unlabelled, and gives a head passing both tests the larger score\'s label', () => {
    const diffuse = promptPatterns(attention({}), seg, last, answer)
    expect(diffuse.gather).toBeLessThan(0.5)
    expect(headLabel(diffuse)).toBeNull()
    expect(labelLetter(null)).toBe('')
    expect(headLabel({gather: 0.6, aggregate: 0.9})).toBe('aggregate')
    expect(headLabel({gather: 0.9, aggregate: 0.6})).toBe('gather')
    // At the threshold: half the mass holds the pattern.
    expect(headLabel({gather: 0.5, aggregate: 0.49})).toBe('gather')
  })
})
