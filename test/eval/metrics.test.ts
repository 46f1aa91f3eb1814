import {describe, expect, it} from 'vitest'
import {mean, meanStderr, multipleChoiceScores} from '../../src/eval/metrics.js'

describe('multiple-choice metrics, checked by hand', () => {
  it('acc picks the highest log-likelihood; acc_norm divides by the choice length in characters', () => {
    // Raw: -4 (' cat', 4 chars) beats -6 (' elephant', 9 chars). Normalised: -1.0 vs -0.667: elephant wins.
    const choices = [' cat', ' elephant']
    expect(multipleChoiceScores([-4, -6], choices, 0)).toEqual({acc: 1, accNorm: 0})
    expect(multipleChoiceScores([-4, -6], choices, 1)).toEqual({acc: 0, accNorm: 1})
  })

  it('standard error of the mean uses the sample variance', () => {
    // Scores 1,1,0,1: mean 0.75; sample variance = (3 * 0.0625 + 0.5625) / 3 = 0.25; stderr = sqrt(0.25 / 4) = 0.25.
    expect(mean([1, 1, 0, 1])).toBe(0.75)
    expect(meanStderr([1, 1, 0, 1])).toBeCloseTo(0.25, 12)
    // 0,1 repeated 5 times: mean 0.5, variance 10 * 0.25 / 9, stderr sqrt(0.2778 / 10) = 0.16667.
    expect(meanStderr([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])).toBeCloseTo(Math.sqrt(2.5 / 9 / 10), 12)
  })
})
