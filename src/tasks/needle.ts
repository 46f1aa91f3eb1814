import type {Random} from '../util/random.js'
import {brownSentences} from './brown.js'
import {checkChoice, checkFraction, checkInteger} from './check-option.js'
import {KEY_HALVES, type KeyHalf, taskKeys} from './key-halves.js'
import {PromptBuilder} from './prompt-builder.js'
import type {RetrievalTask, Span, TaskSample} from './types.js'

export interface NeedleOptions {
  /** Most characters of Brown text around the needle; the haystack stops at the last whole sentence that fits. */
  haystackChars: number
  /** Share of the haystack before the needle (0 = start, 1 = end), snapped to a sentence boundary; omitted: uniform. */
  depth?: number
  /** Number of answer candidates, the answer included; values are 0-99. */
  candidates: number
  /**
   * Which half of the key vocabulary the key comes from (key-halves.ts), and the Brown part of the same name the
   * haystack comes from (brown.ts), so that a held-out needle sits in text distillation never read.
   */
  keys: KeyHalf
}

const VALUE_COUNT = 100

/**
 * Needle in a haystack over the Brown corpus: consecutive corpus sentences from a random start (wrapping around
 * the end), the needle sentence "The special magic number for KEY is N." between two of them, and the question
 * at the end:
 *
 *     <haystack ... The special magic number for engine is 42. ... haystack>
 *
 *     What is the special magic number for engine? The special magic number for engine is
 *
 * Segments are the haystack's sentences with the needle among them; the choices are `candidates` distinct
 * values in increasing order, as ' 42'-style continuations. Key and haystack come from the `train` halves
 * unless asked (as in kv-retrieval, whose defaults say why).
 */
export const needle: RetrievalTask<NeedleOptions> = {
  name: 'needle',
  defaults: {haystackChars: 2000, candidates: 10, keys: 'train'},
  sample(rng: Random, options: Partial<NeedleOptions> = {}): TaskSample {
    const haystackChars = checkInteger('needle', 'haystackChars', options.haystackChars ?? needle.defaults.haystackChars, 1, 1_000_000)
    const candidates = checkInteger('needle', 'candidates', options.candidates ?? needle.defaults.candidates, 1, VALUE_COUNT)
    const depth = options.depth === undefined ? rng.float() : checkFraction('needle', 'depth', options.depth)
    const half = checkChoice('needle', 'keys', options.keys ?? needle.defaults.keys, KEY_HALVES)

    const key = rng.pick(taskKeys(half))
    const values = rng.sampleWithoutReplacement([...Array(VALUE_COUNT).keys()], candidates)
    const value = values[0]
    const haystack = takeSentences(rng, haystackChars, brownSentences(half))
    const needleAt = nearestBoundary(haystack, depth)
    const sentences = [...haystack.slice(0, needleAt), `The special magic number for ${key} is ${value}.`, ...haystack.slice(needleAt)]

    const prompt = new PromptBuilder()
    const segments: Span[] = sentences.map((sentence, i) => {
      if (i > 0) prompt.append(' ')
      return prompt.append(sentence)
    })
    prompt.append('\n\nWhat is the special magic number for ')
    const query = prompt.append(key)
    prompt.append(`? The special magic number for ${key} is`)

    const sorted = values.sort((a, b) => a - b)
    const choices = sorted.map((v) => ` ${v}`)
    const answerIndex = sorted.indexOf(value)
    return {prompt: prompt.toString(), answer: choices[answerIndex], choices, answerIndex, segments, answerSegment: needleAt, query}
  },
}

/** Consecutive corpus sentences from a random start whose ' '-joined length is at most maxChars (at least one). */
function takeSentences(rng: Random, maxChars: number, corpus: readonly string[]): string[] {
  const taken: string[] = []
  let length = -1
  for (let i = rng.int(corpus.length); ; i = (i + 1) % corpus.length) {
    const next = corpus[i]
    if (taken.length > 0 && length + 1 + next.length > maxChars) return taken
    taken.push(next)
    length += 1 + next.length
  }
}

/** The k in 0..sentences.length whose boundary (before sentence k of the ' '-joined text) is nearest to depth. */
function nearestBoundary(sentences: string[], depth: number): number {
  const target = depth * sentences.reduce((sum, s) => sum + s.length + 1, -1)
  let best = 0
  let bestDistance = target
  let offset = 0
  for (let k = 1; k <= sentences.length; k++) {
    offset += sentences[k - 1].length + 1
    if (Math.abs(offset - target) < bestDistance) {
      best = k
      bestDistance = Math.abs(offset - target)
    }
  }
  return best
}
