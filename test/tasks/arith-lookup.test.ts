import {describe, expect, it} from 'vitest'
import {arithmeticParts, arithmeticProblem, problemText} from '../../src/tasks/arithmetic-cot.js'
import {generateSamples, getTask} from '../../src/tasks/index.js'
import {fnv1a} from '../../src/util/fnv1a.js'
import {Random} from '../../src/util/random.js'

const lookup = getTask('arith-lookup')

describe('arith-cot problems', () => {
  it('are written as before their parts were exposed', () => {
    expect(arithmeticProblem(1234, 0)).toEqual({
      prompt: 'Question: Leo has 18 books. Leo buys 3 bags of 10 books each. Leo doubles the books. Leo buys 5 bags of 10 books each. Leo gives 110 to Kai. How many books does Leo have now?\nAnswer:',
      answer: ' Leo starts with 18 books. 3 * 10 = 30, and 18 + 30 = 48. 48 * 2 = 96. 5 * 10 = 50, and 96 + 50 = 146. 146 - 110 = 36.\n#### 36',
    })
  })
})

describe('arith-lookup', () => {
  const SEED = 5
  const samples = generateSamples(lookup, {seed: SEED, count: 300})

  it('asks for the number the chain of thought copies next, among the question\'s numbers', () => {
    let checkedAgainstProblem = 0
    for (const [i, s] of samples.entries()) {
      const [question, written] = s.prompt.split('\nAnswer:')
      const numbers = [...new Set(question.match(/\d+/g)!.map(Number))].sort((a, b) => a - b)
      expect(s.choices).toEqual(numbers.map((n) => ` ${n}`))
      expect(s.choices.length).toBeGreaterThanOrEqual(2)
      expect(s.answer).toBe(s.choices[s.answerIndex])
      expect(s.prompt.endsWith(' ')).toBe(false)
      const texts = s.segments.map(({start, end}) => s.prompt.slice(start, end))
      expect(`Question: ${texts.join(' ')}`).toBe(question)
      expect(texts[s.answerSegment]).toMatch(new RegExp(`\\b${s.answer.trim()}\\b`))
      // Drawn first try (the usual case): the prompt and answer begin the problem's own text.
      const parts = arithmeticParts(new Random(SEED, fnv1a('arith-lookup'), i))
      const full = problemText(parts)
      if (full.prompt === `${question}\nAnswer:`) {
        expect(`${full.prompt}${full.answer}`.startsWith(`${s.prompt}${s.answer}`)).toBe(true)
        expect(`${full.prompt}${full.answer}`[s.prompt.length + s.answer.length]).toMatch(/[ .]/)
        expect(written.length).toBeGreaterThan(0)
        checkedAgainstProblem++
      }
    }
    expect(checkedAgainstProblem).toBeGreaterThan(250)
  })

  it('asks for every kind of copy: the start amount, amounts found and given, bag counts and sizes', () => {
    const before = samples.map((s) => /(starts with|\+|-|\*|\.)$/.exec(s.prompt)?.[1])
    expect(new Set(before)).toEqual(new Set(['starts with', '+', '-', '*', '.']))
  })

  it('is deterministic under a seed and different across seeds', () => {
    expect(generateSamples(lookup, {seed: SEED, count: 300})).toEqual(samples)
    expect(generateSamples(lookup, {seed: SEED + 1, count: 20}).map((s) => s.prompt)).not.toEqual(samples.slice(0, 20).map((s) => s.prompt))
  })
})
