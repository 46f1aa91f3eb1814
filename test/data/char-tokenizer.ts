import type {TextTokenizer} from '../../src/tokenizer/load.js'

/** One id per UTF-16 code unit (ids 1..): enough to check packing and resuming without a vocabulary. */
export const charTokenizer: TextTokenizer = {
  encode: (text) => Array.from(text, (c) => c.charCodeAt(0) + 1),
  decode: (ids) => String.fromCharCode(...ids.map((i) => i - 1)),
  tokenToId: () => undefined,
  vocabSize: 65537,
}

export const EOS = 0

/** Token ids back to text, end-of-text shown as '|'. */
export function show(ids: ArrayLike<number>): string {
  return Array.from(ids, (i) => (i === EOS ? '|' : String.fromCharCode(i - 1))).join('')
}
