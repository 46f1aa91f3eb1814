import {describe, expect, it} from 'vitest'
import {generateSamples, getTask} from '../../src/tasks/index.js'

const mc = getTask('mc-retrieval')

describe('mc-retrieval', () => {
  it('is deterministic under a seed and different across seeds', () => {
    const a = generateSamples(mc, {seed: 1, count: 20})
    expect(generateSamples(mc, {seed: 1, count: 20})).toEqual(a)
    expect(generateSamples(mc, {seed: 2, count: 20}).map((s) => s.prompt)).not.toEqual(a.map((s) => s.prompt))
  })

  it('lays the question out as MMLU does and answers with the letter of the matching option', () => {
    for (const sample of generateSamples(mc, {seed: 4, count: 50})) {
      const word = sample.prompt.slice(sample.query.start, sample.query.end)
      expect(sample.prompt).toBe(
        'The following are multiple choice questions (with answers).\n\n' +
          `Which of the following is the word ${word}?\n` +
          sample.segments.map(({start, end}) => sample.prompt.slice(start, end)).join('') +
          'Answer:',
      )
      expect(sample.choices).toEqual([' A', ' B', ' C', ' D'])
      expect(sample.choices[sample.answerIndex]).toBe(sample.answer)
      const options = sample.segments.map(({start, end}) => sample.prompt.slice(start, end))
      options.forEach((option, i) => expect(option).toMatch(new RegExp(`^${'ABCD'[i]}\\. [a-z]+\\n$`)))
      expect(new Set(options.map((o) => o.slice(3))).size).toBe(4)
      expect(options[sample.answerSegment]).toBe(`${sample.answer.trim()}. ${word}\n`)
    }
  })

  it('puts the answer under every letter', () => {
    const letters = new Set(generateSamples(mc, {seed: 6, count: 100}).map((s) => s.answer))
    expect([...letters].sort()).toEqual([' A', ' B', ' C', ' D'])
  })
})
