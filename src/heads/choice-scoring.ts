import {encodePair} from '../eval/loglikelihood.js'
import type {TaskSample} from '../tasks/types.js'
import type {TextTokenizer} from '../tokenizer/load.js'

/**
 * Multiple-choice accuracy scored as lm-evaluation-harness scores it (sum of each choice's
 * continuation log-probs, the first best choice wins), with far fewer forward rows than one per
 * choice. Every row is context + one choice (less its last token), and each scored position yields
 * the log-probs of every choice's token there, so the row holding the right answer also gives every other
 * choice's log-prob up to the first token where it leaves the answer. Since later tokens only lower
 * a sum, a choice whose partial sum is already below the answer's score cannot win; only the others
 * get a row, shared by choices that differ only in their last token. The accuracy is exact. On a
 * model that answers well that is one row per question.
 */
export interface ChoiceItem {
  context: number[]
  /** Continuation ids of each choice (lm-evaluation-harness `_encode_pair`). */
  choices: number[][]
  answer: number
}

export function tokenizeItems(tok: TextTokenizer, samples: readonly TaskSample[]): ChoiceItem[] {
  return samples.map((s) => {
    const pairs = s.choices.map((c) => encodePair(tok, s.prompt, c))
    const context = pairs[s.answerIndex].context
    if (pairs.some((p) => p.context.length !== context.length || p.context.some((id, i) => id !== context[i]))) {
      throw new Error('tokenizeItems: the choices change how the prompt tokenizes; score them with loglikelihood() instead')
    }
    return {context, choices: pairs.map((p) => p.continuation), answer: s.answerIndex}
  })
}

/** One row to run: ids, the positions whose next-token log-probs are wanted, and at each the tokens wanted. */
export interface ScoreRow<Variant> {
  ids: number[]
  positions: number[]
  /** Per position, the token ids whose log-probs come back (every choice's token there). */
  targets: number[][]
  /** Which model runs the row (an ablation, say); rows of one request share it. */
  variant: Variant
}

/**
 * One scored position: the log-softmax at the row's `targets` for it (in their order) and the
 * argmax over the whole vocabulary. A runner returns these rather than whole rows: at Llama-3's
 * 128,256 tokens a row is half a megabyte, and find-heads scores thousands.
 */
export interface PositionScores {
  tokens: readonly number[]
  logprobs: Float32Array
  argmax: number
}

/** Runs rows (batched as it likes) and returns, per row and position, its scores. */
export type RowRunner<Variant> = (rows: ScoreRow<Variant>[]) => Promise<PositionScores[][]>

/** The log-prob of `token` at a scored position; the token must have been asked for. */
export function logprobAt(scores: PositionScores, token: number): number {
  const i = scores.tokens.indexOf(token)
  if (i < 0) throw new Error(`scoreChoices: token ${token} was not among the position's targets`)
  return scores.logprobs[i]
}

export interface ChoiceOutcome {
  /** The answer has the best log-likelihood (first best on ties). */
  correct: boolean
  /** The answer's first token is the argmax after the context. */
  argmaxCorrect: boolean
  /**
   * Every token of the answer is the argmax at its position (lm-evaluation-harness's `is_greedy`):
   * greedy decoding writes the whole answer. Unlike log-likelihood accuracy it is not biased toward
   * a shorter choice that is a prefix of the answer (' 7' against ' 73' when digits are tokens).
   */
  exactCorrect: boolean
  answerLogprob: number
}

/** Scores each (item, variant) request in two batched passes over `run`. */
export async function scoreChoices<Variant>(requests: {item: ChoiceItem; variant: Variant}[], run: RowRunner<Variant>): Promise<ChoiceOutcome[]> {
  const first = await run(requests.map(({item, variant}) => rowFor(item, item.answer, variant)))
  const partial = requests.map(({item}, r) => partialScores(item, first[r]))
  const pending: {request: number; choice: number}[] = []
  partial.forEach((scores, r) => {
    const answerScore = scores[requests[r].item.answer].sum
    scores.forEach((s, c) => {
      if (!s.exact && s.sum >= answerScore) pending.push({request: r, choice: c})
    })
  })
  // Choices that differ only in their last token share a row (' 42' and ' 47' both need context + ' 4').
  const rowOf = new Map<string, number>()
  const rows: ScoreRow<Variant>[] = []
  const rowIndex = pending.map(({request, choice}) => {
    const key = `${request}:${requests[request].item.choices[choice].slice(0, -1).join(',')}`
    if (!rowOf.has(key)) {
      rowOf.set(key, rows.length)
      rows.push(rowFor(requests[request].item, choice, requests[request].variant))
    }
    return rowOf.get(key)!
  })
  const second = rows.length > 0 ? await run(rows) : []
  pending.forEach(({request, choice}, i) => {
    partial[request][choice] = {sum: sumAt(requests[request].item.choices[choice], second[rowIndex[i]]), exact: true}
  })
  return requests.map(({item}, r) => {
    const sums = partial[r].map((s) => s.sum)
    const best = sums.indexOf(Math.max(...sums))
    const answer = item.choices[item.answer]
    return {
      correct: best === item.answer,
      argmaxCorrect: first[r][0].argmax === answer[0],
      exactCorrect: answer.every((id, i) => first[r][i].argmax === id),
      answerLogprob: sums[item.answer],
    }
  })
}

/**
 * Context + choice c without its last token (never an input), scored at every position that predicts a
 * choice token, for every choice's token there: the answer's row scores the others up to where they leave it.
 */
function rowFor<Variant>(item: ChoiceItem, c: number, variant: Variant): ScoreRow<Variant> {
  const choice = item.choices[c]
  const start = item.context.length - 1
  const targets = choice.map((_, i) => [...new Set(item.choices.filter((ch) => ch.length > i).map((ch) => ch[i]))])
  return {ids: [...item.context, ...choice.slice(0, -1)], positions: choice.map((_, i) => start + i), targets, variant}
}

/**
 * From the answer's row: each choice's log-prob summed over the tokens the row can score (those
 * up to and including its first token that differs from the answer), exact when that is all of them.
 */
function partialScores(item: ChoiceItem, answerRow: PositionScores[]): {sum: number; exact: boolean}[] {
  const answer = item.choices[item.answer]
  return item.choices.map((choice) => {
    let sum = 0
    for (let i = 0; i < choice.length; i++) {
      if (i >= answerRow.length) return {sum, exact: false}
      sum += logprobAt(answerRow[i], choice[i])
      if (choice[i] !== answer[i]) return {sum, exact: i === choice.length - 1}
    }
    return {sum, exact: true}
  })
}

function sumAt(choice: number[], row: PositionScores[]): number {
  let sum = 0
  for (let i = 0; i < choice.length; i++) sum += logprobAt(row[i], choice[i])
  return sum
}
