import type {Tensor} from '../engine/tensor.js'
import type {LanguageModel} from './language-model.js'
import type {CacheOptions, DecodeCache} from './decode-cache.js'

export interface CachedForwardOptions {
  /** Logits of the last new position only, [B, 1, V]: all that sampling needs. */
  lastOnly?: boolean
}

/**
 * A model that decodes incrementally, teacher or hybrid: the parallel forward for scoring, and a
 * forward over new tokens that reads and extends per-layer state (decode-cache.ts).
 */
export interface DecodingModel extends LanguageModel {
  /** Empty state for `batch` sequences of up to `capacity` positions each (attention's keys and values in `opts.kvDtype`). */
  newCache(batch: number, capacity: number, opts?: CacheOptions): DecodeCache
  /**
   * ids [B, Tnew] at positions cache.length.. -> logits [B, Tnew, V]; the cache advances by Tnew.
   * Same logits as `forward` over the whole sequence, position for position.
   */
  forwardCached(ids: Tensor, cache: DecodeCache, opts?: CachedForwardOptions): {logits: Tensor}
}
