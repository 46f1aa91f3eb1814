import type {Precision} from '../engine/precision.js'
import type {TextTokenizer} from '../tokenizer/load.js'
import type {LanguageModel} from '../models/language-model.js'
import {tokenLogprobs} from './token-logprobs.js'

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
 * Score requests in batches of `batchSize` rows, linear layers at `precision`; order of results follows `requests`. A request
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
  precision: Precision = 'f32',
): Promise<LoglikelihoodResult[]> {
  const pairs = requests.map((r) => encodePair(tok, r.context, r.continuation))
  // The logit at position t predicts token t + 1: a request needs its tokens up to the continuation's last.
  const inputs = pairs.map((p) => [...p.context, ...p.continuation.slice(0, -1)])
  const rows: number[][] = []
  const membersOf: number[][] = []
  // Only requests with the same context can share a row: look for a row among those alone.
  const rowsByContext = new Map<string, number[]>()
  const longestFirst = inputs.map((_, i) => i).sort((a, b) => inputs[b].length - inputs[a].length)
  for (const i of longestFirst) {
    const key = pairs[i].context.join(',')
    if (!rowsByContext.has(key)) rowsByContext.set(key, [])
    const candidates = rowsByContext.get(key)!
    let row = candidates.find((r) => inputs[i].every((id, k) => rows[r][k] === id))
    if (row === undefined) {
      row = rows.push(inputs[i]) - 1
      membersOf.push([])
      candidates.push(row)
    }
    membersOf[row].push(i)
  }
  const scored = new Array<{logprob: number; greedy: boolean}[]>(requests.length)
  let done = 0
  for (let start = 0; start < rows.length; start += batchSize) {
    const batch = membersOf.slice(start, start + batchSize)
    const positions = batch.map((members) => members.flatMap((i) => pairs[i].continuation.map((target, k) => ({t: pairs[i].context.length + k - 1, target}))))
    const results = await tokenLogprobs(lm, rows.slice(start, start + batchSize), positions, {precision})
    batch.forEach((members, r) => {
      let taken = 0
      for (const i of members) scored[i] = results[r].slice(taken, (taken += pairs[i].continuation.length))
      done += members.length
    })
    onProgress?.(done)
  }
  return scored.map((s) => ({logprob: s.reduce((a, x) => a + x.logprob, 0), isGreedy: s.every((x) => x.greedy), tokens: s.length}))
}
