import {withPrecision, type Precision} from '../engine/precision.js'
import {fromArray, scopeAsync} from '../engine/tensor.js'
import type {LanguageModel} from '../models/language-model.js'
import {HttpError} from './http-error.js'

export interface PositionLogprobs {
  /** log p(ids[t] | ids[..t]); null at t = 0, which has no prefix. */
  logprob: number | null
  /** The k most likely tokens at t, most likely first; null at t = 0. */
  top: {id: number; logprob: number}[] | null
}

/**
 * Every token's log-probability after its prefix, from one full forward over `ids` with linear
 * layers at `precision`: the logits read back whole (the top k need every row), normalised in float64.
 */
export async function sequenceLogprobs(lm: LanguageModel, ids: readonly number[], k: number, precision: Precision = 'f32'): Promise<PositionLogprobs[]> {
  const T = ids.length
  const logits = await scopeAsync(async () => withPrecision(precision, () => lm.forward(fromArray(lm.backend, Int32Array.from(ids), [1, T]))).logits.toFloat32())
  const V = lm.vocabSize
  const out: PositionLogprobs[] = [{logprob: null, top: null}]
  for (let t = 1; t < T; t++) {
    const row = logits.subarray((t - 1) * V, t * V)
    const {logZ} = logNormalizer(row)
    if (!Number.isFinite(logZ)) throw new HttpError(500, `the model produced non-finite logits at position ${t - 1}; its weights or config are broken`)
    out.push({logprob: row[ids[t]] - logZ, top: topK(row, k).map((id) => ({id, logprob: row[id] - logZ}))})
  }
  return out
}

/** Indices of the k largest values, largest first (ties: lower index first). */
function topK(row: Float32Array, k: number): number[] {
  const best: number[] = []
  if (k === 0) return best
  for (let i = 0; i < row.length; i++) {
    if (best.length === k && row[i] <= row[best[k - 1]]) continue
    let j = best.length
    while (j > 0 && row[best[j - 1]] < row[i]) j--
    best.splice(j, 0, i)
    if (best.length > k) best.pop()
  }
  return best
}

/** log Σ exp(row) (summed in float64 from the max) and the argmax of a logit row: log p(i) = row[i] - logZ. */
export function logNormalizer(row: Float32Array): {logZ: number; argmax: number} {
  let max = -Infinity
  let argmax = 0
  for (let i = 0; i < row.length; i++) {
    if (row[i] > max) {
      max = row[i]
      argmax = i
    }
  }
  let sum = 0
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max)
  return {logZ: max + Math.log(sum), argmax}
}
