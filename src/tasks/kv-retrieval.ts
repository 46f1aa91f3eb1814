import type {Random} from '../util/random.js'
import {checkChoice, checkInteger} from './check-option.js'
import {KEY_HALVES, type KeyHalf, taskKeys} from './key-halves.js'
import {PromptBuilder} from './prompt-builder.js'
import type {RetrievalTask, Span, TaskSample} from './types.js'

export type KvTemplate = 'dictionary' | 'sentences'

export const KV_TEMPLATES: readonly KvTemplate[] = ['dictionary', 'sentences']

export interface KvRetrievalOptions {
  /** Dictionary size. Gather-and-Aggregate sweeps 10..50; at most 100, since values are distinct in 0-99. */
  pairs: number
  /** Which half of the key vocabulary the keys come from (key-halves.ts). */
  keys: KeyHalf
  /** The wording: Gather-and-Aggregate's dictionary, or the same lookup written as sentences. */
  template: KvTemplate
}

const VALUE_COUNT = 100

/**
 * Key-value retrieval. The `dictionary` template is the Gather-and-Aggregate format
 * (goombalab/Gather-and-Aggregate `kv_retrieval.py`):
 *
 *     Memorize the following dictionary:
 *     river:42
 *     engine:7
 *     ...
 *     The value of the key 'engine' is
 *
 * The `sentences` template asks the same question in other words and another layout, to tell a model that
 * retrieves from one that learnt the first format's surface:
 *
 *     Read the list and answer the question.
 *     river has the number 42.
 *     engine has the number 7.
 *     ...
 *     Question: Which number does engine have?
 *     Answer:
 *
 * Keys are distinct common nouns of the chosen half, values distinct integers 0-99, the queried key uniform
 * over the keys. The choices are every value of the dictionary, in dictionary order, as ' 42'-style
 * continuations. Both templates draw the same keys, values and query from the same rng.
 */
export const kvRetrieval: RetrievalTask<KvRetrievalOptions> = {
  name: 'kv-retrieval',
  // keys 'train': whoever does not say otherwise is building a student (mixing, and find-heads, which picks the
  // heads a student keeps by scoring the teacher: a selection tuned on held-out keys would leak them into the
  // student); eval asks for 'heldout' itself.
  defaults: {pairs: 20, keys: 'train', template: 'dictionary'},
  sample(rng: Random, options: Partial<KvRetrievalOptions> = {}): TaskSample {
    const pairs = checkInteger('kv-retrieval', 'pairs', options.pairs ?? kvRetrieval.defaults.pairs, 1, VALUE_COUNT)
    const half = checkChoice('kv-retrieval', 'keys', options.keys ?? kvRetrieval.defaults.keys, KEY_HALVES)
    const template = checkChoice('kv-retrieval', 'template', options.template ?? kvRetrieval.defaults.template, KV_TEMPLATES)
    const keys = rng.sampleWithoutReplacement(taskKeys(half), pairs)
    const values = rng.sampleWithoutReplacement([...Array(VALUE_COUNT).keys()], pairs)
    const target = rng.int(pairs)

    const prompt = new PromptBuilder()
    let segments: Span[]
    let query: Span
    if (template === 'dictionary') {
      prompt.append('Memorize the following dictionary:\n')
      segments = keys.map((key, i) => prompt.append(`${key}:${values[i]}\n`))
      prompt.append("The value of the key '")
      query = prompt.append(keys[target])
      prompt.append("' is")
    } else {
      prompt.append('Read the list and answer the question.\n')
      segments = keys.map((key, i) => prompt.append(`${key} has the number ${values[i]}.\n`))
      prompt.append('Question: Which number does ')
      query = prompt.append(keys[target])
      prompt.append(' have?\nAnswer:')
    }

    const choices = values.map((value) => ` ${value}`)
    return {prompt: prompt.toString(), answer: choices[target], choices, answerIndex: target, segments, answerSegment: target, query}
  },
}
