import {noGrad} from '../engine/autograd.js'
import {add, mul} from '../engine/ops.js'
import {fromArray, scopeAsync, type Tensor} from '../engine/tensor.js'
import type {TeacherModel} from '../models/teacher.js'
import {logSoftmaxRows, type RowRunner, type ScoreRow} from './choice-scoring.js'

/** A query head: [layer, head]. */
export type HeadId = readonly [layer: number, head: number]

/**
 * How an ablated head's output z (the head's slice before the output projection) is replaced:
 * by zeros, or by its mean over the evaluation tokens (`means[layer]`, [Hq·D]).
 */
export type Ablation = {mode: 'zero'} | {mode: 'mean'; means: Float32Array[]}

/** Padded tokens per forward chunk: bounds memory, and keeps CPU matmuls large. */
const CHUNK_TOKENS = 12_288

/**
 * Runs rows through `model`, each row with its own set of ablated heads (its variant), batched
 * into chunks of similar length: many ablations share one forward. Returns next-token log-probs at
 * each requested position.
 */
export function ablationRunner(model: TeacherModel, ablation: Ablation = {mode: 'zero'}): RowRunner<readonly HeadId[]> {
  return async (rows) => {
    const out: Float32Array[][] = new Array(rows.length)
    const order = rows.map((_, i) => i).sort((a, b) => rows[a].ids.length - rows[b].ids.length)
    let start = 0
    while (start < order.length) {
      let end = start + 1
      while (end < order.length && (end + 1 - start) * rows[order[end]].ids.length <= CHUNK_TOKENS) end++
      const chunk = order.slice(start, end)
      const results = await runChunk(model, ablation, chunk.map((i) => rows[i]))
      chunk.forEach((i, k) => (out[i] = results[k]))
      start = end
    }
    return out
  }
}

async function runChunk(model: TeacherModel, ablation: Ablation, rows: ScoreRow<readonly HeadId[]>[]): Promise<Float32Array[][]> {
  const B = rows.length
  const T = Math.max(...rows.map((r) => r.ids.length))
  const ids = new Int32Array(B * T)
  rows.forEach((r, b) => ids.set(r.ids, b * T))
  const picks = Int32Array.from(rows.flatMap((r, b) => r.positions.map((p) => b * T + p)))
  const backend = model.backend
  const logits = await scopeAsync(async () => {
    const {logits} = noGrad(() =>
      model.forward(fromArray(backend, ids, [B, T]), {
        logitRows: fromArray(backend, picks, [picks.length]),
        headOutputs: (layer, z) => ablate(z, layer, rows, ablation),
      }),
    )
    return logits.toFloat32()
  })
  const lp = logSoftmaxRows(logits, model.vocabSize)
  let next = 0
  return rows.map((r) => r.positions.map(() => lp[next++]))
}

/** z [B, T, Hq, D] with the heads each row ablates at `layer` replaced; z itself when none are. */
function ablate(z: Tensor, layer: number, rows: ScoreRow<readonly HeadId[]>[], ablation: Ablation): Tensor {
  const [B, T, Hq, D] = z.shape
  if (!rows.some((r) => r.variant.some(([l]) => l === layer))) return z
  const keep = new Float32Array(B * T * Hq * D).fill(1)
  const fill = ablation.mode === 'mean' ? new Float32Array(B * T * Hq * D) : undefined
  rows.forEach((r, b) => {
    for (const [l, h] of r.variant) {
      if (l !== layer) continue
      for (let t = 0; t < T; t++) {
        const at = ((b * T + t) * Hq + h) * D
        keep.fill(0, at, at + D)
        if (fill && ablation.mode === 'mean') fill.set(ablation.means[layer].subarray(h * D, (h + 1) * D), at)
      }
    }
  })
  const kept = mul(z, fromArray(z.backend, keep, z.shape))
  return fill ? add(kept, fromArray(z.backend, fill, z.shape)) : kept
}
