import type {Random} from '../util/random.js'
import {checkChoice} from './check-option.js'
import {KEY_HALVES, type KeyHalf, taskKeys} from './key-halves.js'
import {PromptBuilder} from './prompt-builder.js'
import type {RetrievalTask, TaskSample} from './types.js'

/** The layout is fixed: four options, A to D. */
export interface McRetrievalOptions {
  /** Which half of the key vocabulary the words come from (key-halves.ts). */
  keys: KeyHalf
}

const LETTERS = ['A', 'B', 'C', 'D']

/**
 * Multiple-choice letter retrieval in the MMLU layout of lm-evaluation-harness: the question names a word, the
 * options are four distinct common nouns one of which is that word, and the answer is its letter.
 *
 *     The following are multiple choice questions (with answers).
 *
 *     Which of the following is the word engine?
 *     A. river
 *     B. engine
 *     C. bottle
 *     D. market
 *     Answer:
 *
 * The knowledge step of MMLU is removed, leaving only what the Gather-and-Aggregate heads do: summarise each option
 * line into its newline, then copy the letter of the line that matches. The word is unquoted so that it follows a
 * space in the question as in its option, and a GPT-2-style tokenizer writes it the same in both. Choices are
 * [' A', ' B', ' C', ' D']. The words come from one half of the key vocabulary, 'train' unless asked (as in
 * kv-retrieval, whose defaults say why).
 */
export const mcRetrieval: RetrievalTask<McRetrievalOptions> = {
  name: 'mc-retrieval',
  defaults: {keys: 'train'},
  sample(rng: Random, options: Partial<McRetrievalOptions> = {}): TaskSample {
    const half = checkChoice('mc-retrieval', 'keys', options.keys ?? mcRetrieval.defaults.keys, KEY_HALVES)
    const words = rng.sampleWithoutReplacement(taskKeys(half), LETTERS.length)
    const target = rng.int(LETTERS.length)

    const prompt = new PromptBuilder()
    prompt.append('The following are multiple choice questions (with answers).\n\nWhich of the following is the word ')
    const query = prompt.append(words[target])
    prompt.append('?\n')
    const segments = words.map((word, i) => prompt.append(`${LETTERS[i]}. ${word}\n`))
    prompt.append('Answer:')

    const choices = LETTERS.map((letter) => ` ${letter}`)
    return {prompt: prompt.toString(), answer: choices[target], choices, answerIndex: target, segments, answerSegment: target, query}
  },
}
