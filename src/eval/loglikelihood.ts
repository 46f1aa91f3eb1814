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

/** Score requests in batches of `batchSize` rows; order of results follows `requests`. */
export async function loglikelihood(
  lm: LanguageModel,
  tok: TextTokenizer,
  requests: LoglikelihoodRequest[],
  batchSize = 8,
  onProgress?: (done: number) => void,
): Promise<LoglikelihoodResult[]> {
  const results: LoglikelihoodResult[] = []
  for (let start = 0; start < requests.length; start += batchSize) {
    const batch = requests.slice(start, start + batchSize).map((r) => encodePair(tok, r.context, r.continuation))
    const rows = batch.map((p) => [...p.context, ...p.continuation])
    // The logit at position t predicts token t + 1.
    const positions = batch.map((p) => p.continuation.map((target, i) => ({t: p.context.length + i - 1, target})))
    const scored = await tokenLogprobs(lm, rows, positions)
    for (const s of scored) {
      results.push({logprob: s.reduce((a, x) => a + x.logprob, 0), isGreedy: s.every((x) => x.greedy), tokens: s.length})
    }
    onProgress?.(results.length)
  }
  return results
}
