import type {Backend} from '../backend/backend.js'
import {empty, keep, Tensor} from '../engine/tensor.js'
import {ShapeError} from '../errors.js'

/**
 * The state a model carries from one decoding step to the next, one entry per layer: attention
 * layers keep every past key and value (memory grows with the context), SSM layers keep a
 * fixed-size convolution window and recurrent state (memory constant in the context).
 * Letters: B batch, S capacity (positions), Hkv key/value heads, D head dim.
 */
export interface LayerCache {
  readonly kind: 'kv' | 'ssm'
  /** Device bytes this layer's state holds for the whole batch. */
  readonly bytes: number
  dispose(): void
}

/** An attention layer: k, v [B, S, Hkv, D], preallocated; rows 0..length-1 are filled. */
export class KvLayerCache implements LayerCache {
  readonly kind = 'kv' as const

  constructor(readonly k: Tensor, readonly v: Tensor) {}

  static allocate(backend: Backend, batch: number, capacity: number, kvHeads: number, headDim: number): KvLayerCache {
    const shape = [batch, capacity, kvHeads, headDim]
    return new KvLayerCache(keep(empty(backend, shape)), keep(empty(backend, shape)))
  }

  get bytes(): number {
    return (this.k.numel + this.v.numel) * 4
  }

  dispose(): void {
    this.k.dispose()
    this.v.dispose()
  }
}

/**
 * An SSM layer: its mixer's recurrent state, an object of tensors such as {convWindow, ssmState}
 * (mixers/mixer.ts), fixed in size whatever the context. A step makes new tensors; `update` swaps
 * them in and frees the old ones.
 */
export class SsmLayerCache<S extends object = object> implements LayerCache {
  readonly kind = 'ssm' as const

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

/** Every layer's state for `batch` sequences that have seen `length` positions (all the same). */
export class DecodeCache {
  length = 0

  constructor(readonly batch: number, readonly capacity: number, readonly layers: LayerCache[]) {}

  kv(layer: number): KvLayerCache {
    const c = this.layers[layer]
    if (!(c instanceof KvLayerCache)) throw new ShapeError(`layer ${layer} holds no key/value cache`)
    return c
  }

  ssm<S extends object>(layer: number): SsmLayerCache<S> {
    const c = this.layers[layer]
    if (!(c instanceof SsmLayerCache)) throw new ShapeError(`layer ${layer} holds no SSM state`)
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

  /** Device bytes by kind of layer, for the whole batch. */
  bytesByKind(): {kv: number; ssm: number} {
    const out = {kv: 0, ssm: 0}
    for (const c of this.layers) out[c.kind] += c.bytes
    return out
  }

  dispose(): void {
    for (const c of this.layers) c.dispose()
  }
}
