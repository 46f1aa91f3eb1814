import type {Backend} from '../backend/backend.js'
import {empty, keep, type Tensor} from '../engine/tensor.js'
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
 * An SSM layer: the last (kernel - 1) inputs of its causal depthwise conv, convWindow [B, convDim, K-1],
 * and the recurrent state, ssmState [B, H, P, N]. A step makes new tensors; `update` swaps them in.
 */
export class SsmLayerCache implements LayerCache {
  readonly kind = 'ssm' as const

  constructor(public convWindow: Tensor, public ssmState: Tensor) {
    keep(convWindow)
    keep(ssmState)
  }

  get bytes(): number {
    return (this.convWindow.numel + this.ssmState.numel) * 4
  }

  update(convWindow: Tensor, ssmState: Tensor): void {
    if (convWindow !== this.convWindow) this.convWindow.dispose()
    if (ssmState !== this.ssmState) this.ssmState.dispose()
    this.convWindow = keep(convWindow)
    this.ssmState = keep(ssmState)
  }

  dispose(): void {
    this.convWindow.dispose()
    this.ssmState.dispose()
  }
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

  ssm(layer: number): SsmLayerCache {
    const c = this.layers[layer]
    if (!(c instanceof SsmLayerCache)) throw new ShapeError(`layer ${layer} holds no SSM state`)
    return c
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
