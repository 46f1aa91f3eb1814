import {argmaxRow, drawFromRow} from '../kernels/sample-rows.js'
import type {Random} from '../util/random.js'

export {argmaxRow}

/** How the next token is drawn from a logit row: greedy at temperature 0, else softmax(logits / T) cut to the top-p nucleus. */
export interface SamplingOptions {
  temperature: number
  topP: number
}

/**
 * One token from a row of logits [V]. Top-p keeps the most likely tokens whose probabilities
 * first reach `topP` together (at least one), renormalised, as transformers' TopPLogitsWarper does.
 */
export function sampleToken(row: Float32Array, opts: SamplingOptions, rng: Random): number {
  if (opts.temperature <= 0) return argmaxRow(row)
  // Without a nucleus cut the draw is the one the device sampler makes (kernels/sample-rows.ts).
  if (opts.topP >= 1) return drawFromRow(row, opts.temperature, rng.float())
  const V = row.length
  let max = -Infinity
  for (let i = 0; i < V; i++) if (row[i] > max) max = row[i]
  const probs = new Float64Array(V)
  let sum = 0
  for (let i = 0; i < V; i++) sum += probs[i] = Math.exp((row[i] - max) / opts.temperature)
  const order = Array.from({length: V}, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b)
  const candidates: number[] = []
  let total = 0
  for (const id of order) {
    candidates.push(id)
    total += probs[id]
    if (total >= opts.topP * sum) break
  }
  let u = rng.float() * total
  for (const id of candidates) {
    u -= probs[id]
    if (u < 0) return id
  }
  return candidates[candidates.length - 1]
}
