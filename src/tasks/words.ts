import {readFileSync} from 'node:fs'
import wordListPath from 'word-list'
import {brownFiles} from './brown.js'

/** Brown `nn` tags a word needs, in most of its occurrences, to count as a common noun. */
const MIN_NOUN_COUNT = 20

let cachedNouns: string[] | undefined

/**
 * Common English nouns for task keys, sorted: words of npm `word-list` (a 274k-word English dictionary) that the
 * Brown corpus tags as a singular common noun (`nn`) at least MIN_NOUN_COUNT times and in most of their
 * occurrences. About 1,400 words, from "ability" to "zone".
 */
export function commonNouns(): readonly string[] {
  cachedNouns ??= computeCommonNouns()
  return cachedNouns
}

function computeCommonNouns(): string[] {
  const dictionary = new Set(readFileSync(wordListPath, 'utf8').split('\n'))
  const nounCount = new Map<string, number>()
  const totalCount = new Map<string, number>()
  for (const {tagged} of brownFiles()) {
    for (const token of tagged.split(/\s+/)) {
      const slash = token.lastIndexOf('/')
      if (slash <= 0) continue
      const word = token.slice(0, slash).toLowerCase()
      if (!dictionary.has(word)) continue
      totalCount.set(word, (totalCount.get(word) ?? 0) + 1)
      if (token.slice(slash + 1) === 'nn') nounCount.set(word, (nounCount.get(word) ?? 0) + 1)
    }
  }
  return [...nounCount]
    .filter(([word, count]) => count >= MIN_NOUN_COUNT && 2 * count > totalCount.get(word)! && /^[a-z]+$/.test(word))
    .map(([word]) => word)
    .sort()
}
