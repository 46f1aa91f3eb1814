import type {Backend} from '../backend/backend.js'
import {empty, keep, Tensor} from '../engine/tensor.js'
import {HybridizeError, ShapeError} from '../errors.js'
import {flashSupported} from '../kernels/attention-v2.js'
import {bytesPerValue} from '../kernels/half-precision.js'

/**
 * The element type of attention's key/value cache: f32, or f16 at half the bytes (keys and values
 * rounded to nearest as they are written, read widened; the sums stay f32). transformers keeps the
 * cache in the model's dtype, so a bf16 or f16 model caches at 2 bytes.
 */
export type KvCacheDtype = 'f32' | 'f16'

export const KV_CACHE_DTYPES: readonly KvCacheDtype[] = ['f32', 'f16']

export interface CacheOptions {
  /** f32 when absent. */
  kvDtype?: KvCacheDtype
}

/**
 * The state a model carries from one decoding step to the next, per layer: attention heads keep
 * every past key and value (memory grows with the context), SSM mixers keep a fixed-size state
 * (memory constant in the context). A hybrid layer that keeps some heads beside its SSM has both.
 * Letters: B batch, S capacity (positions), Hkv key/value heads, D head dim.
 */

/** An attention layer's keys and values: k, v [B, S, Hkv, D] of f32 or f16, preallocated; rows 0..length-1 are filled. */
export class KvLayerCache {
  constructor(readonly k: Tensor, readonly v: Tensor) {}

  static allocate(backend: Backend, batch: number, capacity: number, kvHeads: number, headDim: number, dtype: KvCacheDtype = 'f32'): KvLayerCache {
    // The decode attention kernel reads four halves a load (kernels/attention-decode.ts).
    if (dtype === 'f16' && !flashSupported({d: headDim})) throw new HybridizeError(`an f16 key/value cache needs a head dim that is a multiple of 4, at most 128; this model's is ${headDim} (use --kv-cache-dtype f32)`)
    const shape = [batch, capacity, kvHeads, headDim]
    return new KvLayerCache(keep(empty(backend, shape, dtype)), keep(empty(backend, shape, dtype)))
  }

  get bytes(): number {
    return (this.k.numel + this.v.numel) * bytesPerValue(this.k.dtype)
  }

  dispose(): void {
    this.k.dispose()
    this.v.dispose()
  }
}

/**
 * An SSM mixer's recurrent state, an object of tensors such as {convWindow, ssmState}
 * (mixers/mixer.ts). A step makes new tensors; `update` swaps them in and frees the old ones.
 */
export class SsmLayerCache<S extends object = object> {
  constructor(public state: S) {
    for (const t of tensorsIn(state)) keep(t)
  }

  get bytes(): number {
    return tensorsIn(this.state).reduce((sum, t) => sum + t.numel * 4, 0)
  }

  update(state: S): void {
    const next = new Set(tensorsIn(state))
    for (const t of tensorsIn(this.state)) if (!next.has(t)) t.dispose()
    for (const t of next) keep(t)
    this.state = state
  }

  dispose(): void {
    for (const t of tensorsIn(this.state)) t.dispose()
  }
}

function tensorsIn(state: object): Tensor[] {
  return Object.values(state).filter((v): v is Tensor => v instanceof Tensor)
}

/** One layer's decode state: a KV cache for its attention heads, an SSM state for its mixer, or both. */
export interface LayerState {
  kv?: KvLayerCache
  ssm?: SsmLayerCache
}

/** Every layer's state for `batch` sequences that have seen `length` positions (all the same). */
export class DecodeCache {
  length = 0

  constructor(readonly batch: number, readonly capacity: number, readonly layers: LayerState[]) {}

  kv(layer: number): KvLayerCache {
    const c = this.layers[layer]?.kv
    if (!c) throw new ShapeError(`layer ${layer} holds no key/value cache`)
    return c
  }

  ssm<S extends object>(layer: number): SsmLayerCache<S> {
    const c = this.layers[layer]?.ssm
    if (!c) throw new ShapeError(`layer ${layer} holds no SSM state`)
    return c as SsmLayerCache<S>
  }

  /** Check that `count` more positions fit, before a forward writes them. */
  checkRoom(batch: number, count: number): void {
    if (batch !== this.batch) throw new ShapeError(`a cache for ${this.batch} sequences was given ${batch}`)
    if (this.length + count > this.capacity) {
      throw new ShapeError(`the cache holds ${this.capacity} positions; ${this.length} + ${count} do not fit`)
    }
  }

  advance(count: number): void {
    this.length += count
  }

  /** Device bytes of KV caches and of SSM states, for the whole batch. */
  bytesByKind(): {kv: number; ssm: number} {
    const out = {kv: 0, ssm: 0}
    for (const c of this.layers) {
      out.kv += c.kv?.bytes ?? 0
      out.ssm += c.ssm?.bytes ?? 0
    }
    return out
  }

  dispose(): void {
    for (const c of this.layers) {
      c.kv?.dispose()
      c.ssm?.dispose()
    }
  }
}
