import {describe, expect, it} from 'vitest'
import {HybridizeError} from '../../src/errors.js'
import {generateSamples, getTask} from '../../src/tasks/index.js'
import {commonNouns} from '../../src/tasks/words.js'

const kv = getTask('kv-retrieval')

describe('kv-retrieval', () => {
  it('is deterministic under a seed, prefix-stable, and different across seeds', () => {
    const a = generateSamples(kv, {seed: 11, count: 20})
    expect(generateSamples(kv, {seed: 11, count: 20})).toEqual(a)
    expect(generateSamples(kv, {seed: 11, count: 5})).toEqual(a.slice(0, 5))
    expect(generateSamples(kv, {seed: 11, count: 5, first: 15})).toEqual(a.slice(15))
    const b = generateSamples(kv, {seed: 12, count: 20})
    expect(b.map((s) => s.prompt)).not.toEqual(a.map((s) => s.prompt))
  })

  it('writes the Gather-and-Aggregate prompt with distinct noun keys and distinct values 0-99', () => {
    const nouns = new Set(commonNouns())
    for (const pairs of [10, 25, 50]) {
      for (const sample of generateSamples(kv, {seed: pairs, count: 30, pairs})) {
        const lines = sample.prompt.split('\n')
        expect(lines[0]).toBe('Memorize the following dictionary:')
        expect(lines).toHaveLength(pairs + 2)
        const entries = lines.slice(1, -1).map((line) => line.split(':'))
        const keys = entries.map(([key]) => key)
        const values = entries.map(([, value]) => Number(value))
        expect(new Set(keys).size).toBe(pairs)
        for (const key of keys) expect(nouns.has(key)).toBe(true)
        expect(new Set(values).size).toBe(pairs)
        for (const v of values) expect(Number.isInteger(v) && v >= 0 && v <= 99).toBe(true)
        const queried = sample.prompt.slice(sample.query.start, sample.query.end)
        expect(lines.at(-1)).toBe(`The value of the key '${queried}' is`)
        expect(sample.answer).toBe(` ${values[keys.indexOf(queried)]}`)
      }
    }
  })

  it('asks the same lookup in other words with template=sentences: same keys, values, query and answer', () => {
    const dictionary = generateSamples(kv, {seed: 5, count: 20, pairs: 12})
    const sentences = generateSamples(kv, {seed: 5, count: 20, pairs: 12, template: 'sentences'})
    for (const [i, sample] of sentences.entries()) {
      const lines = sample.prompt.split('\n')
      expect(lines[0]).toBe('Read the list and answer the question.')
      expect(lines).toHaveLength(12 + 3)
      const queried = sample.prompt.slice(sample.query.start, sample.query.end)
      expect(lines.slice(-2)).toEqual([`Question: Which number does ${queried} have?`, 'Answer:'])
      const pairs = lines.slice(1, -2).map((line) => /^([a-z]+) has the number (\d+)\.$/.exec(line)!.slice(1))
      expect(pairs.map(([key, value]) => `${key}:${value}`)).toEqual(dictionary[i].prompt.split('\n').slice(1, -1))
      expect(queried).toBe(dictionary[i].prompt.slice(dictionary[i].query.start, dictionary[i].query.end))
      expect([sample.answer, sample.choices]).toEqual([dictionary[i].answer, dictionary[i].choices])
      for (const span of sample.segments) expect(sample.prompt[span.end - 1]).toBe('\n')
      expect(sample.prompt.slice(sample.segments[sample.answerSegment].start).startsWith(`${queried} has the number${sample.answer}.`)).toBe(true)
    }
    expect(() => generateSamples(kv, {seed: 5, count: 1, template: 'table' as never})).toThrow(/template must be one of dictionary, sentences, got table/)
  })

  it('offers every dictionary value as a choice, the answer at answerIndex', () => {
    for (const sample of generateSamples(kv, {seed: 3, count: 50, pairs: 15})) {
      expect(sample.choices).toHaveLength(15)
      expect(new Set(sample.choices).size).toBe(15)
      expect(sample.choices[sample.answerIndex]).toBe(sample.answer)
      for (const choice of sample.choices) expect(choice).toMatch(/^ \d{1,2}$/)
    }
  })

  it('marks each key:value line, and the queried pair, with spans that point at them', () => {
    for (const sample of generateSamples(kv, {seed: 5, count: 40, pairs: 20})) {
      expect(sample.segments).toHaveLength(20)
      const texts = sample.segments.map(({start, end}) => sample.prompt.slice(start, end))
      for (const text of texts) expect(text).toMatch(/^[a-z]+:\d{1,2}\n$/)
      expect(texts.join('')).toBe(sample.prompt.split('\n').slice(1, -1).map((l) => `${l}\n`).join(''))
      const key = sample.prompt.slice(sample.query.start, sample.query.end)
      expect(texts[sample.answerSegment]).toBe(`${key}:${sample.answer.trim()}\n`)
      expect(sample.answerSegment).toBe(sample.answerIndex)
    }
  })

  it('queries every position of the dictionary', () => {
    const positions = new Set(generateSamples(kv, {seed: 8, count: 300, pairs: 10}).map((s) => s.answerSegment))
    expect(positions.size).toBe(10)
  })

  it('rejects pair counts it cannot fill', () => {
    for (const pairs of [0, 101, 2.5]) expect(() => generateSamples(kv, {seed: 1, count: 1, pairs})).toThrow(HybridizeError)
  })
})
