import {describe, expect, it} from 'vitest'
import type {HeadId} from '../../src/heads/ablation-runner.js'
import {greedySelection, type AccuracyFigures} from '../../src/heads/find-heads.js'

const A: HeadId = [1, 0]
const B: HeadId = [1, 1]
const D: HeadId = [0, 2]
const others: HeadId[] = [[0, 0], [0, 1], [1, 2]]
const has = (set: readonly HeadId[], [l, h]: HeadId) => set.some(([sl, sh]) => sl === l && sh === h)

/**
 * A model whose retrieval runs through two heads that stand in for one another (A, B): either
 * alone is enough, so ablating one costs only log-likelihood. D costs a little log-likelihood
 * and no accuracy whatever else is ablated.
 */
function figures(set: readonly HeadId[]): AccuracyFigures {
  const both = has(set, A) && has(set, B)
  const answerLogprob = -0.1 - (has(set, A) ? 0.5 : 0) - (has(set, D) ? 0.4 : 0) - (has(set, B) ? 0.3 : 0) - (both ? 3 : 0)
  return {acc: both ? 0.1 : 1, argmaxAcc: both ? 0.1 : 1, exactAcc: both ? 0.1 : 1, answerLogprob}
}

describe('greedy head selection', () => {
  it('finds two heads that stand in for one another, which the single-ablation ranking splits', async () => {
    const heads = [A, B, D, ...others]
    const ranked = [...heads].sort((x, y) => figures([x]).answerLogprob - figures([y]).answerLogprob)
    expect(ranked.slice(0, 2)).toEqual([A, D])
    expect(figures(ranked.slice(0, 2)).acc).toBe(1)

    const passes: number[] = []
    const score = async (variants: (readonly HeadId[])[]) => (passes.push(variants.length), variants.map(figures))
    const {selected, curve} = await greedySelection(ranked, (head) => figures([head]), 2, score, () => {})
    expect(selected).toEqual([A, B])
    expect(curve.map((f) => f.acc)).toEqual([1, 0.1])
    // One pass, over the heads not yet chosen.
    expect(passes).toEqual([heads.length - 1])
  })
})
