/**
 * The split before BPE: GPT-2's pattern with two changes. Each digit stands alone (` ?\p{N}` instead of
 * ` ?\p{N}+`), so numbers tokenize digit by digit: ' 42' is ' 4' + '2' whatever the training text was. And a
 * contraction suffix ('s 't 're 've 'm 'll 'd) must follow a letter and end the word, so a quoted word keeps its
 * tokens: "key 'result'" splits as " key", " '", "result", "'" where GPT-2 would take "'re" off "result".
 * Whitespace is written \p{White_Space}, read the same by JavaScript and by Oniguruma (the Rust tokenizers'
 * regex engine), unlike \s. Pieces: a contraction suffix; a letter run with at most one leading space; one
 * digit with at most one leading space; a run of other symbols with at most one leading space; whitespace,
 * leaving the last space of a run to the word that follows.
 * Numbers kept whole (Llama 3's ` ?\p{N}{1,3}`) would lift the log-likelihood ceiling of kv-retrieval, but the
 * fixture recipe then never learnt retrieval in 3,600 steps (EXPERIMENTS.md, runs 8 and 9): the second digit,
 * copied by plain induction, is the foothold the lookup grows from.
 */
export const PRE_TOKENIZER_PATTERN =
  "(?<=\\p{L})'(?:s|t|re|ve|m|ll|d)(?!\\p{L})| ?\\p{L}+| ?\\p{N}| ?[^\\p{White_Space}\\p{L}\\p{N}]+|\\p{White_Space}+(?!\\P{White_Space})|\\p{White_Space}+"

const PRE_TOKENIZER_REGEX = new RegExp(PRE_TOKENIZER_PATTERN, 'gu')

/** The pieces of `text`; concatenated, they give back `text`. */
export function preTokenize(text: string): string[] {
  return text.match(PRE_TOKENIZER_REGEX) ?? []
}
