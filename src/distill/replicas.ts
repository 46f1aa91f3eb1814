import type {Tensor} from '../engine/tensor.js'
import type {StageContext} from './stage.js'

/**
 * The gradient reduction of data-parallel training over the devices of one host (`--devices N`).
 * WebGPU has no copies between devices, so each gradient goes device -> host (the backend's
 * staging read) -> summed on the host -> written back to every device. The sum runs in replica
 * order 0, 1, ..., N − 1 on f32 values, so every run and every replica gets the same bits.
 *
 * Gradients move in buckets, one per layer (the weights outside any layer, embedding, final norm
 * and LM head, make one more), last layer first, as the backward produces them: each bucket's
 * reads are issued on every device at once and the host sums one bucket while the next is read.
 * They do not overlap the backward itself: the tape returns its gradients when the whole backward
 * has been queued, and a read waits for the work queued before it.
 */
export type Bucket = number[]

/** Indices into `params` (the trained weights in the optimizers' order), grouped by layer, last layer first. */
export function gradientBuckets(ctx: StageContext, params: Tensor[]): Bucket[] {
  const names = new Map([...ctx.student.weights].map(([name, t]) => [t, name]))
  const byLayer = new Map<number, number[]>()
  params.forEach((t, i) => {
    const layer = ctx.student.describe(names.get(t)!).layer ?? -1
    byLayer.set(layer, [...(byLayer.get(layer) ?? []), i])
  })
  return [...byLayer].sort(([a], [b]) => b - a).map(([, indices]) => indices)
}

/** Replaces every replica's gradients (grads[replica][param]) with their sum over replicas. */
export async function allReduceSum(grads: Tensor[][], buckets: Bucket[]): Promise<void> {
  const read = (bucket: Bucket) => Promise.all(bucket.map((i) => Promise.all(grads.map((g) => g[i].toFloat32()))))
  let next = buckets.length > 0 ? read(buckets[0]) : undefined
  for (const [b, bucket] of buckets.entries()) {
    const values = await next!
    next = b + 1 < buckets.length ? read(buckets[b + 1]) : undefined
    bucket.forEach((i, k) => {
      const [sum, ...rest] = values[k]
      for (const other of rest) for (let j = 0; j < sum.length; j++) sum[j] += other[j]
      for (const g of grads) g[i].backend.write(g[i].storage, sum)
    })
  }
}
