import {argmaxRow, drawFromRow} from '../kernels/sample-rows.js'
import type {Random} from '../util/random.js'

export {argmaxRow}

/**
 * How the next token is drawn from a logit row: greedy at temperature 0, else softmax(logits / T)
 * cut to the top-k tokens, then to the top-p nucleus (transformers' order of warpers).
 */
export interface SamplingOptions {
  temperature: number
  topP: number
  /** Keep only the k most likely tokens; 0 or absent keeps all. */
  topK?: number
}

/**
 * One token from a row of logits [V]. Top-p keeps the most likely tokens whose probabilities
 * first reach `topP` together (at least one), renormalised, as transformers' TopPLogitsWarper does.
 */
export function sampleToken(row: Float32Array, opts: SamplingOptions, rng: Random): number {
  if (opts.temperature <= 0) return argmaxRow(row)
  // Without a top-k or nucleus cut the draw is the one the device sampler makes (kernels/sample-rows.ts).
  if (opts.topP >= 1 && !opts.topK) return drawFromRow(row, opts.temperature, rng.float())
  const V = row.length
  let max = -Infinity
  for (let i = 0; i < V; i++) if (row[i] > max) max = row[i]
  const probs = new Float64Array(V)
  let sum = 0
  for (let i = 0; i < V; i++) sum += probs[i] = Math.exp((row[i] - max) / opts.temperature)
  let candidates: number[]
  let total = sum
  const topK = opts.topK && opts.topK < V ? opts.topK : 0
  if (opts.topP < 1 || topK) {
    let order = Array.from({length: V}, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b)
    if (topK) {
      order = order.slice(0, topK)
      sum = order.reduce((s, id) => s + probs[id], 0)
    }
    candidates = []
    total = 0
    for (const id of order) {
      candidates.push(id)
      total += probs[id]
      if (total >= opts.topP * sum) break
    }
  } else {
    candidates = Array.from({length: V}, (_, i) => i)
  }
  let u = rng.float() * total
  for (const id of candidates) {
    u -= probs[id]
    if (u < 0) return id
  }
  return candidates[candidates.length - 1]
}
