import type {TextTokenizer} from '../tokenizer/load.js'

/**
 * The most UTF-16 characters one token of the vocabulary decodes to, plus one for the leading
 * space that decoders (Metaspace, byte-level with prefix space) drop from a lone token. A text
 * of C characters then has at least C / this many tokens, which lets the server refuse a prompt
 * that cannot fit the context without spending seconds tokenizing it. (A normalizer that deletes
 * characters could break the bound; none of the causal LMs' tokenizers does.)
 */
export function maxTokenChars(tokenizer: TextTokenizer): number {
  let most = 0
  for (let id = 0; id < tokenizer.vocabSize; id++) most = Math.max(most, tokenizer.decode([id]).length)
  return most + 1
}
