import type {Backend} from '../backend/backend.js'
import {add, attention, matmul, scale} from '../engine/ops.js'
import {permute, repeatInterleave} from '../engine/layout-ops.js'
import {fromArray, type Tensor} from '../engine/tensor.js'
import type {TeacherConfig} from './config.js'
import {DecodeCache, KvLayerCache, type CacheOptions} from './decode-cache.js'
import {Decoder, type DecoderOptions, type DecoderOutput, type MixOutput, type RopeTables} from './decoder.js'
import type {DecodingModel} from './decoding-model.js'
import {attentionNames} from './teacher-weights.js'

/**
 * A teacher (Llama or Phi): the decoder (decoder.ts) with every layer's mixer the attention over all
 * of its heads. The teacher-only hooks (hidden states from a layer, per-head outputs, attention
 * logits) are options of the decoder, or `attentionLogits` below.
 */
export type ForwardOptions = Omit<DecoderOptions, 'mixingMatrices'>

export interface ForwardOutput {
  logits: Tensor
  hiddenStates?: Tensor[]
  /** Per layer, the attention probabilities [B, Hq, T, T]. */
  attentions?: Tensor[]
}

export class TeacherModel extends Decoder implements DecodingModel {
  constructor(readonly config: TeacherConfig, weights: Map<string, Tensor>, backend: Backend) {
    super(config, weights, backend)
  }

  /** ids: [B, T] int32 -> logits [B, T, V]. */
  override forward(ids: Tensor, opts: ForwardOptions = {}): ForwardOutput {
    // Every layer attends, so every layer has probabilities when they are asked for.
    return super.forward(ids, opts) as DecoderOutput & {attentions?: Tensor[]}
  }

  /** A key/value cache [B, capacity, Hkv, D] per layer. */
  newCache(batch: number, capacity: number, opts: CacheOptions = {}): DecodeCache {
    const {numLayers, numKvHeads, headDim} = this.config
    const layers = Array.from({length: numLayers}, () => ({kv: KvLayerCache.allocate(this.backend, batch, capacity, numKvHeads, headDim, opts.kvDtype)}))
    return new DecodeCache(batch, capacity, layers)
  }

  protected mix(l: number, x: Tensor, tables: RopeTables, opts: DecoderOptions, cache?: DecodeCache): MixOutput {
    return this.attend(l, x, tables, {heads: this.config.numHeads, kvHeads: this.config.numKvHeads}, opts, cache)
  }

  /**
   * Layer l's attention probabilities [B, Hq, T, T] from h [B, T, C], the residual stream entering
   * it: what `attentions` gives for that layer alone, so a caller can ask for one layer (and a few
   * batch rows) at a time. Not differentiable.
   */
  attentionProbs(l: number, h: Tensor): Tensor {
    const {numHeads: heads, numKvHeads: kvHeads} = this.config
    const x = this.inputNorm(l, h)
    const tables = this.ropeTables(h.shape[1])
    const {q, k} = this.queriesKeys(l, x, tables, {heads, kvHeads})
    const v = this.project(x, attentionNames(this.config, l).v, kvHeads)
    return attention(q, k, v, {returnProbs: true}).probs!
  }

  /**
   * Layer l's pre-softmax attention scores [B, Hq, T, T] from h [B, T, C], the residual stream
   * entering it (positions 0..T-1), with the future masked to -1e9; differentiable, unlike the
   * probabilities `attentions` returns. Attention transfer (fixtures/attention-transfer.ts) trains them.
   */
  attentionLogits(l: number, h: Tensor): Tensor {
    const {numHeads: Hq, numKvHeads: Hkv, headDim: D} = this.config
    const T = h.shape[1]
    const {q, k} = this.queriesKeys(l, this.inputNorm(l, h), this.ropeTables(T), {heads: Hq, kvHeads: Hkv})
    const keys = repeatInterleave(permute(k, [0, 2, 3, 1]), 1, Hq / Hkv)
    const scores = matmul(permute(q, [0, 2, 1, 3]), keys)
    const future = Float32Array.from({length: T * T}, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0))
    return add(scale(scores, 1 / Math.sqrt(D)), fromArray(this.backend, future, [T, T]))
  }
}
