import type {Storage} from '../backend/backend.js'
import {keep, onRelease, type Tensor} from './tensor.js'

/**
 * Mixed precision's f16 copies of weights (ops.ts#halfLinear), made once per version of the weight
 * instead of on every call: a weight is read by its layer's forward, by the backward's input
 * gradient, and again by the forward a recomputation repeats, and a frozen teacher's weights every
 * step, while it changes only when the optimizer steps. A copy is keyed by the weight's storage, its
 * layout (`layout`: the tensor cores' zero-padded packing, the rounded f32 values the CPU and llvmpipe
 * multiply, or the f16 matrix a decode step's few rows read) and that storage's write count
 * (Storage.version: a kernel's output or a host write moves it, as torch's tensor `_version` counts
 * in-place writes), so an optimizer step, a checkpoint loaded into the weight or any other write makes
 * the next call copy afresh; the copies are freed with the weight. The memory this holds is one copy
 * of each weight used per layout asked for: decoding on tensor cores, whose prompt takes the padded
 * packing and whose steps the f16 matrix, holds both where the weight's sizes are not whole tiles.
 */
const copies = new WeakMap<Storage, Map<string, {version: number; copy: Tensor}>>()

/** `make(weight)`'s result for the weight as it is now in `layout`, made again only when the weight was written since. The caller must not dispose it. */
export function cachedHalfWeight(weight: Tensor, layout: string, make: (weight: Tensor) => Tensor): Tensor {
  const storage = weight.storage
  let layouts = copies.get(storage)
  if (!layouts) {
    const made = new Map<string, {version: number; copy: Tensor}>()
    layouts = made
    copies.set(storage, made)
    onRelease(storage, () => {
      for (const {copy} of made.values()) copy.dispose()
      copies.delete(storage)
    })
  }
  const hit = layouts.get(layout)
  if (hit && hit.version === storage.version) return hit.copy
  hit?.copy.dispose()
  // Out of any scope: it lives until the weight is written or freed, not until the caller's scope ends.
  const copy = keep(make(weight))
  layouts.set(layout, {version: storage.version, copy})
  return copy
}
