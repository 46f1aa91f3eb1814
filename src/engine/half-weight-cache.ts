import type {Storage} from '../backend/backend.js'
import {keep, onRelease, type Tensor} from './tensor.js'

/**
 * Mixed precision's f16 copies of weights (ops.ts#halfLinear), made once per version of the weight
 * instead of on every call: a weight is read by its layer's forward, by the backward's input
 * gradient, and again by the forward a recomputation repeats, and a frozen teacher's weights every
 * step, while it changes only when the optimizer steps. A copy is keyed by the weight's storage and
 * that storage's write count (Storage.version: a kernel's output or a host write moves it, as
 * torch's tensor `_version` counts in-place writes), so an optimizer step, a checkpoint loaded into
 * the weight or any other write makes the next call copy afresh; the copy is freed with the weight.
 * The memory this holds is one half-precision copy of each weight used (on the CPU and llvmpipe,
 * which round in f32, one f32 copy).
 */
const copies = new WeakMap<Storage, {version: number; copy: Tensor}>()

/** `make(weight)`'s result for the weight as it is now, made again only when the weight was written since. The caller must not dispose it. */
export function cachedHalfWeight(weight: Tensor, make: (weight: Tensor) => Tensor): Tensor {
  const storage = weight.storage
  const hit = copies.get(storage)
  if (hit && hit.version === storage.version) return hit.copy
  hit?.copy.dispose()
  // Out of any scope: it lives until the weight is written or freed, not until the caller's scope ends.
  const copy = keep(make(weight))
  copies.set(storage, {version: storage.version, copy})
  onRelease(storage, () => {
    copies.get(storage)?.copy.dispose()
    copies.delete(storage)
  })
  return copy
}
