import {fnv1a} from '../util/fnv1a.js'
import {commonNouns} from './words.js'

/**
 * The key vocabulary of the retrieval tasks, split in two disjoint halves so that evaluation asks about keys the
 * students never saw in distillation:
 *   train    keys of distillation's mixed-in samples (`distill --mix`) and of head selection (`find-heads`)
 *   heldout  keys of `eval`'s retrieval tasks, by default
 *   all      both, as before the split (the fixture teachers and tokenizer were built on every key)
 * The rule is fixed and per word: a noun is held out when the FNV-1a hash (32 bits) of its spelling is odd. A
 * word's half depends on the word alone, not on its place in the list, so a change to the noun list moves no
 * other word across.
 */
export type KeyHalf = 'train' | 'heldout' | 'all'

export const KEY_HALVES: readonly KeyHalf[] = ['train', 'heldout', 'all']

export function keyHalfOf(word: string): Exclude<KeyHalf, 'all'> {
  return (fnv1a(word) & 1) === 1 ? 'heldout' : 'train'
}

const cached = new Map<KeyHalf, readonly string[]>()

/** The common nouns of one half, sorted. */
export function taskKeys(half: KeyHalf): readonly string[] {
  let keys = cached.get(half)
  if (!keys) {
    keys = half === 'all' ? commonNouns() : commonNouns().filter((word) => keyHalfOf(word) === half)
    cached.set(half, keys)
  }
  return keys
}

