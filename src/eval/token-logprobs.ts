import {withPrecision, type Precision} from '../engine/precision.js'
import {fromArray, keep, scope} from '../engine/tensor.js'
import {checkFiniteLogits} from '../models/finite.js'
import type {LanguageModel} from '../models/language-model.js'

/**
 * Log-probabilities of chosen tokens: for each row b and position t in `positions[b]`, log p(target | prefix),
 * from one forward with linear layers at `precision`.
 * Rows are right-padded to one length; a causal model's earlier positions never see the padding.
 */
export async function tokenLogprobs(
  lm: LanguageModel,
  rows: number[][],
  positions: {t: number; target: number}[][],
  {precision = 'f32', padId = 0}: {precision?: Precision; padId?: number} = {},
): Promise<{logprob: number; greedy: boolean}[][]> {
  const T = Math.max(...rows.map((r) => r.length))
  const ids = new Int32Array(rows.length * T).fill(padId)
  rows.forEach((r, b) => ids.set(r, b * T))
  // Logits only where asked: the LM head over every position is most of a small model's work.
  const picked = Int32Array.from(positions.flatMap((list, b) => list.map(({t}) => b * T + t)))
  const V = lm.vocabSize
  // No scope stays open across the read: models on several devices score at once (eval/on-devices.ts),
  // and the engine's scopes are one stack per process.
  const onDevice = keep(scope(() => withPrecision(precision, () => lm.forward(fromArray(lm.backend, ids, [rows.length, T]), {logitRows: fromArray(lm.backend, picked, [picked.length])})).logits))
  if (onDevice.shape.length !== 2 || onDevice.shape[0] !== picked.length) {
    onDevice.dispose()
    throw new Error(`tokenLogprobs: the model returned logits [${onDevice.shape}] for ${picked.length} picked rows`)
  }
  const logits = await onDevice.toFloat32().finally(() => onDevice.dispose())
  checkFiniteLogits(logits, V)
  let next = 0
  return positions.map((list) =>
    list.map(({target}) => {
      const row = logits.subarray(next * V, ++next * V)
      const {logZ, argmax} = logNormalizer(row)
      return {logprob: row[target] - logZ, greedy: argmax === target}
    }),
  )
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
