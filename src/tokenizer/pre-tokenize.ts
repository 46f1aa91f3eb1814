/**
 * The split before BPE: GPT-2's pattern with two changes. Numbers split into runs of at most three digits
 * (` ?\p{N}{1,3}` instead of ` ?\p{N}+`), as Llama 3's tokenizer does, so '2024' is '202' + '4' and a value
 * 0-99 can be one token: with digits apart, ' 7' would be a prefix of ' 72' and log-likelihood scoring of
 * kv-retrieval could never pick ' 72' over ' 7' (EXPERIMENTS.md, the log-likelihood ceiling). And a
 * contraction suffix ('s 't 're 've 'm 'll 'd) must follow a letter and end the word, so a quoted word keeps its
 * tokens: "key 'result'" splits as " key", " '", "result", "'" where GPT-2 would take "'re" off "result".
 * Whitespace is written \p{White_Space}, read the same by JavaScript and by Oniguruma (the Rust tokenizers'
 * regex engine), unlike \s. Pieces: a contraction suffix; a letter run with at most one leading space; one to
 * three digits with at most one leading space; a run of other symbols with at most one leading space; whitespace,
 * leaving the last space of a run to the word that follows.
 */
export const PRE_TOKENIZER_PATTERN =
  "(?<=\\p{L})'(?:s|t|re|ve|m|ll|d)(?!\\p{L})| ?\\p{L}+| ?\\p{N}{1,3}| ?[^\\p{White_Space}\\p{L}\\p{N}]+|\\p{White_Space}+(?!\\P{White_Space})|\\p{White_Space}+"

const PRE_TOKENIZER_REGEX = new RegExp(PRE_TOKENIZER_PATTERN, 'gu')

/** The pieces of `text`; concatenated, they give back `text`. */
export function preTokenize(text: string): string[] {
  return text.match(PRE_TOKENIZER_REGEX) ?? []
}
