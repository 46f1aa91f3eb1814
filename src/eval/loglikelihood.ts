import type {TextTokenizer} from '../tokenizer/load.js'
import {tokenLogprobs, type LanguageModel} from './language-model.js'

/** One lm-evaluation-harness `loglikelihood` request: how likely is `continuation` after `context`? */
export interface LoglikelihoodRequest {
  context: string
  continuation: string
}

export interface LoglikelihoodResult {
  /** Sum of the continuation tokens' log-probabilities. */
  logprob: number
  /** Every continuation token is the argmax at its position. */
  isGreedy: boolean
  tokens: number
}

/**
 * Token ids as lm-evaluation-harness's `_encode_pair` makes them: trailing spaces of the context
 * move to the continuation, context + continuation is encoded whole, and the continuation is what
 * follows the length of the context's own encoding.
 */
export function encodePair(tok: TextTokenizer, context: string, continuation: string): {context: number[]; continuation: number[]} {
  const trimmed = context.trimEnd()
  const moved = context.slice(trimmed.length)
  const whole = tok.encode(trimmed + moved + continuation)
  const ctxLength = tok.encode(trimmed).length
  return {context: whole.slice(0, ctxLength), continuation: whole.slice(ctxLength)}
}

/**
 * Score requests in batches of `batchSize` rows; order of results follows `requests`. A request
 * whose tokens (context, then its continuation but the last token) are a prefix of another's
 * shares that request's row: " 7" and " 72" after one prompt are one row, and a kv-retrieval
 * sample of 50 two-digit values needs 10 rows (one per first digit), not 50.
 */
export async function loglikelihood(
  lm: LanguageModel,
  tok: TextTokenizer,
  requests: LoglikelihoodRequest[],
  batchSize = 8,
  onProgress?: (done: number) => void,
): Promise<LoglikelihoodResult[]> {
  const pairs = requests.map((r) => encodePair(tok, r.context, r.continuation))
  // The logit at position t predicts token t + 1: a request needs its tokens up to the continuation's last.
  const inputs = pairs.map((p) => [...p.context, ...p.continuation.slice(0, -1)])
  const rows: number[][] = []
  const rowOf = new Array<number>(requests.length)
  const longestFirst = inputs.map((_, i) => i).sort((a, b) => inputs[b].length - inputs[a].length)
  for (const i of longestFirst) {
    const shared = rows.findIndex((row) => inputs[i].every((id, k) => row[k] === id))
    rowOf[i] = shared >= 0 ? shared : rows.push(inputs[i]) - 1
  }
  const scored = new Array<{logprob: number; greedy: boolean}[]>(requests.length)
  let done = 0
  for (let start = 0; start < rows.length; start += batchSize) {
    const members = requests.map((_, i) => i).filter((i) => rowOf[i] >= start && rowOf[i] < start + batchSize)
    const positions = rows.slice(start, start + batchSize).map(() => [] as {t: number; target: number}[])
    for (const i of members) {
      const {context, continuation} = pairs[i]
      positions[rowOf[i] - start].push(...continuation.map((target, k) => ({t: context.length + k - 1, target})))
    }
    const results = await tokenLogprobs(lm, rows.slice(start, start + batchSize), positions)
    const taken = positions.map(() => 0)
    for (const i of members) {
      const r = rowOf[i] - start
      scored[i] = results[r].slice(taken[r], (taken[r] += pairs[i].continuation.length))
    }
    onProgress?.((done += members.length))
  }
  return scored.map((s) => ({logprob: s.reduce((a, x) => a + x.logprob, 0), isGreedy: s.every((x) => x.greedy), tokens: s.length}))
}
