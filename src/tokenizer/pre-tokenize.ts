/**
 * The split before BPE, as GPT-2's pattern but with each digit on its own (` ?\p{N}` instead of ` ?\p{N}+`),
 * so numbers tokenize digit by digit: ' 42' is ' 4' + '2' whatever the training text was. Whitespace is written
 * as \p{White_Space}, which JavaScript and Oniguruma (the Rust tokenizers' regex engine) read the same way,
 * unlike \s. Pieces: an English contraction suffix; a letter run with at most one leading space; one digit
 * with at most one leading space; a run of other symbols with at most one leading space; whitespace, leaving
 * the last space of a run to the word that follows.
 */
export const PRE_TOKENIZER_PATTERN =
  "'(?:s|t|re|ve|m|ll|d)| ?\\p{L}+| ?\\p{N}| ?[^\\p{White_Space}\\p{L}\\p{N}]+|\\p{White_Space}+(?!\\P{White_Space})|\\p{White_Space}+"

const PRE_TOKENIZER_REGEX = new RegExp(PRE_TOKENIZER_PATTERN, 'gu')

/** The pieces of `text`; concatenated, they give back `text`. */
export function preTokenize(text: string): string[] {
  return text.match(PRE_TOKENIZER_REGEX) ?? []
}
