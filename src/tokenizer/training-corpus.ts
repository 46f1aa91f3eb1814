import {brownTexts} from '../tasks/brown.js'
import {kvRetrieval} from '../tasks/kv-retrieval.js'
import {mcRetrieval} from '../tasks/mc-retrieval.js'
import {needle} from '../tasks/needle.js'
import {commonNouns} from '../tasks/words.js'
import type {TaskSample} from '../tasks/types.js'
import {Random} from '../util/random.js'

export interface TrainingCorpusOptions {
  seed: number
  /** Samples of each retrieval task, written as prompt + answer. */
  samplesPerTask: number
  /** Brown documents to include, from the first (500 in all, about 12,000 characters each). */
  brownDocuments?: number
  /**
   * Every key noun written this many times as a dictionary line ("river:"), so that BPE gives each its own
   * token, as a large tokenizer's vocabulary does for common words; 0 leaves keys to the merges the rest
   * of the text earns (3 to 4 tokens each at a vocabulary of 1,024).
   */
  keyLines?: number
}

/**
 * Text for a fixture tokenizer: Brown corpus documents, so that English splits sensibly, plus retrieval task
 * samples, so that their scaffolding ("Memorize the following dictionary:", "Answer:", ...) gets its own tokens.
 * Key-value samples use 10 to 50 pairs, needle haystacks 500 to 2,000 characters, and keys of both halves
 * (key-halves.ts): the tokenizer serves evaluation as well as training.
 */
export function tokenizerTrainingTexts({seed, samplesPerTask, brownDocuments, keyLines = 0}: TrainingCorpusOptions): string[] {
  const texts = brownTexts().slice(0, brownDocuments)
  const write = (sample: TaskSample) => sample.prompt + sample.answer
  for (let i = 0; i < samplesPerTask; i++) {
    const rng = new Random(seed, i)
    texts.push(write(kvRetrieval.sample(rng, {pairs: 10 + rng.int(41), keys: 'all'})))
    texts.push(write(mcRetrieval.sample(rng, {keys: 'all'})))
    texts.push(write(needle.sample(rng, {haystackChars: 500 + rng.int(1501), keys: 'all'})))
  }
  const keyList = commonNouns()
    .map((key) => `${key}:`)
    .join('\n')
  for (let i = 0; i < keyLines; i++) texts.push(keyList)
  return texts
}
