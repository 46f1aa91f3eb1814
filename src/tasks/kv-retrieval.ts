import type {Random} from '../util/random.js'
import {checkInteger} from './check-option.js'
import {PromptBuilder} from './prompt-builder.js'
import type {RetrievalTask, TaskSample} from './types.js'
import {commonNouns} from './words.js'

export interface KvRetrievalOptions {
  /** Dictionary size. Gather-and-Aggregate sweeps 10..50; at most 100, since values are distinct in 0-99. */
  pairs: number
}

const VALUE_COUNT = 100

/**
 * Key-value retrieval in the Gather-and-Aggregate format (goombalab/Gather-and-Aggregate `kv_retrieval.py`):
 *
 *     Memorize the following dictionary:
 *     river:42
 *     engine:7
 *     ...
 *     The value of the key 'engine' is
 *
 * Keys are distinct common nouns, values distinct integers 0-99, the queried key uniform over the keys. The
 * choices are every value of the dictionary, in dictionary order, as ' 42'-style continuations.
 */
export const kvRetrieval: RetrievalTask<KvRetrievalOptions> = {
  name: 'kv-retrieval',
  defaults: {pairs: 20},
  sample(rng: Random, options: Partial<KvRetrievalOptions> = {}): TaskSample {
    const pairs = checkInteger('kv-retrieval', 'pairs', options.pairs ?? kvRetrieval.defaults.pairs, 1, VALUE_COUNT)
    const keys = rng.sampleWithoutReplacement(commonNouns(), pairs)
    const values = rng.sampleWithoutReplacement([...Array(VALUE_COUNT).keys()], pairs)
    const target = rng.int(pairs)

    const prompt = new PromptBuilder()
    prompt.append('Memorize the following dictionary:\n')
    const segments = keys.map((key, i) => prompt.append(`${key}:${values[i]}\n`))
    prompt.append("The value of the key '")
    const query = prompt.append(keys[target])
    prompt.append("' is")

    const choices = values.map((value) => ` ${value}`)
    return {prompt: prompt.toString(), answer: choices[target], choices, answerIndex: target, segments, answerSegment: target, query}
  },
}
