import {describe, expect, it} from 'vitest'
import {HybridizeError} from '../../src/errors.js'
import {brownDocuments, brownSentences, detagSentence} from '../../src/tasks/brown.js'
import {generateSamples, getTask} from '../../src/tasks/index.js'

const needle = getTask('needle')
const QUESTION = '\n\nWhat is the special magic number for '

/** Common Brown tags glued to a word (`jury/nn`), which stripping should have removed. */
const TAG_RESIDUE = /\S\/(?:nn|nns|in|at|jj|cc|rb|np|vb|vbn|vbd|vbz|cs|pps|ppss|ppo|vbg|pp\$|to|cd|md|bez|bedz|dt|ap|wdt)(?:-tl|-hl)?(?=\s|$)/

describe('Brown corpus text', () => {
  it('holds the 500 samples as plain sentences, without part-of-speech tags', () => {
    const docs = brownDocuments()
    expect(docs).toHaveLength(500)
    expect(new Set(docs.map((d) => d.category)).size).toBe(15)
    const sentences = brownSentences()
    expect(sentences.length).toBeGreaterThan(50_000)
    expect(sentences[0]).toBe(
      'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.',
    )
    for (const sentence of sentences) {
      expect(TAG_RESIDUE.test(sentence)).toBe(false)
      expect(sentence.includes('``') || sentence.includes("''")).toBe(false)
    }
  })

  it('keeps slashes inside words, drops doubled end marks and moves them inside closing quotes', () => {
    expect(detagSentence('mix/vb 1/2/cd cup/nn and/or/cc more/ap ./.')).toBe('mix 1/2 cup and/or more.')
    expect(detagSentence('``/`` Joan/np ,/, did/dod I/ppss wake/vb you/ppo \'\'/\'\' ?/. ?/.')).toBe('"Joan, did I wake you?"')
    expect(detagSentence('won/vbn by/in Ivan/np Allen/np Jr./np ./.')).toBe('won by Ivan Allen Jr.')
    expect(detagSentence("only/rb 4'/nns 10''/nns ''/'' tall/jj")).toBe('only 4\' 10" tall')
  })
})

describe('needle', () => {
  it('is deterministic under a seed and different across seeds', () => {
    const a = generateSamples(needle, {seed: 1, count: 10})
    expect(generateSamples(needle, {seed: 1, count: 10})).toEqual(a)
    expect(generateSamples(needle, {seed: 2, count: 10}).map((s) => s.prompt)).not.toEqual(a.map((s) => s.prompt))
  })

  it('hides one needle among whole Brown sentences and asks for it at the end', () => {
    const corpus = new Set(brownSentences())
    for (const sample of generateSamples(needle, {seed: 3, count: 20, haystackChars: 3000})) {
      const key = sample.prompt.slice(sample.query.start, sample.query.end)
      expect(key).toMatch(/^[a-z]+$/)
      expect(sample.prompt.endsWith(`${QUESTION}${key}? The special magic number for ${key} is`)).toBe(true)
      const texts = sample.segments.map(({start, end}) => sample.prompt.slice(start, end))
      expect(texts[sample.answerSegment]).toBe(`The special magic number for ${key} is${sample.answer}.`)
      const haystack = texts.filter((_, i) => i !== sample.answerSegment)
      for (const sentence of haystack) expect(corpus.has(sentence)).toBe(true)
      const haystackLength = haystack.join(' ').length
      expect(haystackLength).toBeLessThanOrEqual(3000)
      expect(haystackLength).toBeGreaterThan(1500)
      expect(sample.prompt.slice(0, sample.prompt.indexOf(QUESTION))).toBe(texts.join(' '))
    }
  })

  it('offers distinct candidate values 0-99 with the answer among them', () => {
    for (const sample of generateSamples(needle, {seed: 4, count: 20, candidates: 7})) {
      const values = sample.choices.map(Number)
      expect(values).toHaveLength(7)
      expect(new Set(values).size).toBe(7)
      expect([...values].sort((x, y) => x - y)).toEqual(values)
      for (const v of values) expect(Number.isInteger(v) && v >= 0 && v <= 99).toBe(true)
      expect(sample.choices[sample.answerIndex]).toBe(sample.answer)
    }
  })

  it('places the needle at the requested depth', () => {
    const at = (depth: number) => generateSamples(needle, {seed: 5, count: 10, haystackChars: 8000, depth})
    for (const s of at(0)) expect(s.answerSegment).toBe(0)
    for (const s of at(1)) expect(s.answerSegment).toBe(s.segments.length - 1)
    for (const s of at(0.5)) {
      const needleStart = s.segments[s.answerSegment].start
      const haystackEnd = s.prompt.indexOf(QUESTION)
      expect(Math.abs(needleStart / haystackEnd - 0.5)).toBeLessThan(0.1)
    }
    const depths = generateSamples(needle, {seed: 6, count: 50}).map((s) => s.answerSegment / (s.segments.length - 1))
    expect(Math.min(...depths)).toBeLessThan(0.2)
    expect(Math.max(...depths)).toBeGreaterThan(0.8)
  })

  it('rejects a depth outside [0, 1]', () => {
    expect(() => generateSamples(needle, {seed: 1, count: 1, depth: 1.5})).toThrow(HybridizeError)
  })
})
