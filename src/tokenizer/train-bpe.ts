import {BYTE_TO_CHAR, toByteLevel} from './byte-level.js'
import {preTokenize} from './pre-tokenize.js'

/** A trained byte-level BPE tokenizer, in the byte-level alphabet (a space is 'Ġ'). */
export interface BpeModel {
  /** Token strings by id: ids 0-255 are the single bytes in byte order, then merged tokens as learned, then the special tokens. */
  vocab: string[]
  /** Merges in the order learned, which is the order encoding applies them. */
  merges: Array<[string, string]>
  /** The last specialTokens.length entries of vocab, never produced by merges. */
  specialTokens: string[]
}

export interface TrainBpeOptions {
  /** Target size including the 256 bytes and the special tokens; smaller if the text runs out of pairs. */
  vocabSize: number
  specialTokens?: string[]
  /** Pairs seen fewer times than this are never merged. */
  minFrequency?: number
}

export const DEFAULT_SPECIAL_TOKENS = ['<|endoftext|>', '<|pad|>']

/** Pair (a, b) of token ids as one Map key: ids stay below this, so keys stay small integers (V8 Smis). */
const KEY_BASE = 2 ** 15
const pairKey = (a: number, b: number) => a * KEY_BASE + b

/**
 * Learns BPE merges the way GPT-2's tokenizer was trained: split the text with PRE_TOKENIZER_PATTERN, write each
 * piece as bytes, then repeatedly merge the most frequent adjacent pair of tokens (ties: smaller ids first).
 * Pair counts are updated incrementally: a merge only touches the distinct pieces that contain the pair, and a
 * max-heap with lazy re-insertion finds the next best pair. Same texts and options, same model.
 */
export function trainBpe(texts: Iterable<string>, options: TrainBpeOptions): BpeModel {
  const specialTokens = options.specialTokens ?? DEFAULT_SPECIAL_TOKENS
  const minFrequency = options.minFrequency ?? 2
  const learnedSize = options.vocabSize - specialTokens.length
  if (!Number.isInteger(options.vocabSize) || learnedSize < 256 || options.vocabSize >= KEY_BASE) {
    throw new RangeError(`trainBpe: vocabSize must be an integer from ${256 + specialTokens.length} (bytes + special tokens) to ${KEY_BASE - 1}, got ${options.vocabSize}`)
  }

  const {words, counts} = countPieces(texts, specialTokens)
  const vocab = [...BYTE_TO_CHAR]
  const idOf = new Map(vocab.map((token, id) => [token, id]))
  const merges: Array<[string, string]> = []
  const pairs = new PairCounts(words, counts)

  while (vocab.length < learnedSize) {
    const best = pairs.popBest(minFrequency)
    if (best === undefined) break
    const [a, b] = best
    const token = vocab[a] + vocab[b]
    // Two merge paths can spell the same string ('ab'+'c', 'a'+'bc'); they share one id, as in HF tokenizers.
    let id = idOf.get(token)
    if (id === undefined) {
      id = vocab.length
      vocab.push(token)
      idOf.set(token, id)
    }
    merges.push([vocab[a], vocab[b]])
    pairs.merge(a, b, id)
  }
  for (const special of specialTokens) {
    if (idOf.has(special)) throw new RangeError(`trainBpe: special token ${special} is also a learned token`)
    vocab.push(special)
  }
  return {vocab, merges, specialTokens}
}

/**
 * Distinct pre-tokenized pieces as arrays of byte ids, with how often each occurs. Special tokens in the text are
 * cut out first, as encoding does, so no merge spans them.
 */
function countPieces(texts: Iterable<string>, specialTokens: string[]): {words: number[][]; counts: number[]} {
  const frequency = new Map<string, number>()
  const escaped = specialTokens.map((token) => token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  const specials = escaped.length > 0 ? new RegExp(escaped.join('|')) : undefined
  for (const text of texts) {
    for (const part of specials ? text.split(specials) : [text]) {
      for (const piece of preTokenize(part)) frequency.set(piece, (frequency.get(piece) ?? 0) + 1)
    }
  }
  const byteId = new Map(BYTE_TO_CHAR.map((char, id) => [char, id]))
  const words: number[][] = []
  const counts: number[] = []
  for (const [piece, count] of frequency) {
    words.push(Array.from(toByteLevel(piece), (char) => byteId.get(char)!))
    counts.push(count)
  }
  return {words, counts}
}

/** Counts of adjacent token pairs over all pieces (weighted by piece frequency), kept current across merges. */
class PairCounts {
  private readonly count = new Map<number, number>()
  /** Pieces that contained each pair when it was counted; may hold stale entries, checked on use. */
  private readonly where = new Map<number, number[]>()
  private readonly heap = new PairHeap()
  private readonly visited: Int32Array
  private step = 0

  constructor(private readonly words: number[][], private readonly counts: number[]) {
    this.visited = new Int32Array(words.length).fill(-1)
    words.forEach((word, w) => this.add(word, counts[w], w))
    for (const [key, count] of this.count) this.heap.push(count, key)
  }

  /** The most frequent pair as [a, b], removed from the counts; undefined when none reaches minFrequency. */
  popBest(minFrequency: number): [number, number] | undefined {
    for (;;) {
      const top = this.heap.pop()
      if (top === undefined) return undefined
      const current = this.count.get(top.key) ?? 0
      if (current !== top.count) {
        // Stale entry: counts of existing pairs only fall, so re-queue with the true count.
        if (current > 0) this.heap.push(current, top.key)
        continue
      }
      if (current < minFrequency) return undefined
      return [Math.floor(top.key / KEY_BASE), top.key % KEY_BASE]
    }
  }

  /** Rewrites every piece holding (a, b) with `merged`, and queues the pairs that the new token forms. */
  merge(a: number, b: number, merged: number): void {
    const key = pairKey(a, b)
    const created = new Set<number>()
    for (const w of this.where.get(key) ?? []) {
      if (this.visited[w] === this.step) continue
      this.visited[w] = this.step
      const word = this.words[w]
      const rewritten = replacePair(word, a, b, merged)
      if (rewritten === word) continue
      this.add(word, -this.counts[w], -1)
      this.add(rewritten, this.counts[w], w, merged, created)
      this.words[w] = rewritten
    }
    this.count.delete(key)
    this.where.delete(key)
    for (const k of created) this.heap.push(this.count.get(k)!, k)
    this.step++
  }

  /**
   * Adds `delta` to the count of every adjacent pair of `word`. With w >= 0, records that piece w holds them;
   * with `fresh`, only for pairs that contain `fresh`, whose keys are collected into `created`.
   */
  private add(word: number[], delta: number, w: number, fresh?: number, created?: Set<number>): void {
    for (let i = 0; i + 1 < word.length; i++) {
      const key = pairKey(word[i], word[i + 1])
      const count = (this.count.get(key) ?? 0) + delta
      if (count === 0) this.count.delete(key)
      else this.count.set(key, count)
      if (w < 0 || (fresh !== undefined && word[i] !== fresh && word[i + 1] !== fresh)) continue
      created?.add(key)
      const list = this.where.get(key)
      if (list === undefined) this.where.set(key, [w])
      else if (list[list.length - 1] !== w) list.push(w)
    }
  }
}

/** `word` with each non-overlapping (a, b), left to right, replaced by `merged`; the same array if none. */
function replacePair(word: number[], a: number, b: number, merged: number): number[] {
  let out: number[] | undefined
  for (let i = 0; i < word.length; i++) {
    if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
      out ??= word.slice(0, i)
      out.push(merged)
      i++
    } else {
      out?.push(word[i])
    }
  }
  return out ?? word
}

/** Max-heap of (count, pair key); ties go to the smaller key, i.e. the pair with smaller ids. */
class PairHeap {
  private readonly counts: number[] = []
  private readonly keys: number[] = []

  push(count: number, key: number): void {
    this.counts.push(count)
    this.keys.push(key)
    let i = this.counts.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.before(i, parent)) break
      this.swap(i, parent)
      i = parent
    }
  }

  pop(): {count: number; key: number} | undefined {
    if (this.counts.length === 0) return undefined
    const top = {count: this.counts[0], key: this.keys[0]}
    const lastCount = this.counts.pop()!
    const lastKey = this.keys.pop()!
    if (this.counts.length > 0) {
      this.counts[0] = lastCount
      this.keys[0] = lastKey
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        const right = left + 1
        let best = i
        if (left < this.counts.length && this.before(left, best)) best = left
        if (right < this.counts.length && this.before(right, best)) best = right
        if (best === i) break
        this.swap(i, best)
        i = best
      }
    }
    return top
  }

  private before(i: number, j: number): boolean {
    return this.counts[i] > this.counts[j] || (this.counts[i] === this.counts[j] && this.keys[i] < this.keys[j])
  }

  private swap(i: number, j: number): void {
    ;[this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]]
    ;[this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]]
  }
}
