import type {Backend} from '../backend/backend.js'
import {withPrecision, type Precision} from '../engine/precision.js'
import {fromArray, scopeAsync} from '../engine/tensor.js'
import {ShapeError} from '../errors.js'
import {checkFiniteLogits} from './finite.js'
import type {LoadedModel} from './load-model.js'

export interface ForwardResult {
  /** [B, T, V] */
  logits: {shape: number[]; data: Float32Array}
  /** hidden_states.i, each [B, T, C]. */
  hiddenStates: {shape: number[]; data: Float32Array}[]
}

/**
 * Run the model on token ids [B, T] and bring logits and hidden states back to the host; `precision`
 * 'mixed' runs its linear layers as mixed-precision training does (engine/precision.ts).
 */
export async function forwardIds(model: LoadedModel, backend: Backend, ids: Int32Array, shape: readonly number[], precision: Precision = 'f32'): Promise<ForwardResult> {
  if (shape.length !== 2) throw new ShapeError(`input_ids must have rank 2 [batch, seq], got shape [${shape}]`)
  const vocab = model.vocabSize
  for (const id of ids) if (id < 0 || id >= vocab) throw new ShapeError(`input_ids holds token id ${id}, outside the vocabulary of ${vocab}`)
  return scopeAsync(async () => {
    const out = withPrecision(precision, () => model.forward(fromArray(backend, ids, shape), {hiddenStates: true}))
    const hiddenStates = []
    for (const h of out.hiddenStates!) hiddenStates.push({shape: [...h.shape], data: await h.toFloat32()})
    const logits = await out.logits.toFloat32()
    checkFiniteLogits(logits, vocab)
    return {logits: {shape: [...out.logits.shape], data: logits}, hiddenStates}
  })
}

/** Softmax of one logit row, top k as {id, prob}. */
export function topTokens(row: Float32Array, k: number): {id: number; logit: number; prob: number}[] {
  let max = -Infinity
  for (const v of row) if (v > max) max = v
  let sum = 0
  for (const v of row) sum += Math.exp(v - max)
  const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a]).slice(0, k)
  return order.map((id) => ({id, logit: row[id], prob: Math.exp(row[id] - max) / sum}))
}
