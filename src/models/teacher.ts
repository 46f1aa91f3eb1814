import type {Backend} from '../backend/backend.js'
import {add, attention, embedding, geluNew, layernorm, linear, matmul, rmsnorm, rope, scale, swiglu} from '../engine/ops.js'
import {cachedAttention, writeTimeRows} from '../engine/decode-ops.js'
import {narrow, permute, repeatInterleave} from '../engine/layout-ops.js'
import {fromArray, type Tensor} from '../engine/tensor.js'
import {ShapeError} from '../errors.js'
import type {TeacherConfig} from './config.js'
import {DecodeCache, KvLayerCache} from './decode-cache.js'
import type {CachedForwardOptions, DecodingModel} from './decoding-model.js'
import {inverseFrequencies, ropeTables} from './rope-tables.js'
import {attentionNames} from './teacher-weights.js'

/**
 * The teacher forward pass, written once over tensor ops so it runs on every backend.
 * Llama: h += attn(rmsnorm(h)); h += mlp(rmsnorm(h)).
 * Phi:   x = layernorm(h); h += attn(x) + mlp(x)       (parallel attention and MLP)
 * Letters: B batch, T time, C hidden, V vocab, Hq/Hkv heads, D head dim.
 */
export interface ForwardOptions {
  /** Return hidden_states.i: the input of layer i, and after the last layer the final-normed state. */
  hiddenStates?: boolean
  /** Return each layer's attention probabilities [B, Hq, T, T]. */
  attentions?: boolean
  /** Per layer, [Hq] multipliers on each head's output (0 ablates a head). */
  headMasks?: (Tensor | undefined)[]
  /**
   * Edit each layer's per-head attention outputs z [B, T, Hq, D] before the output projection
   * (TransformerLens `hook_z`): return z or a replacement of its shape. Per-row ablations use it.
   */
  headOutputs?: (layer: number, z: Tensor) => Tensor
  /** Logits only for these rows of the flattened [B·T] positions (i32 [N]); logits are then [N, V]. */
  logitRows?: Tensor
  /**
   * Start at this layer from `hidden` [B, T, C], the residual stream entering it (as `hiddenStates`
   * returns it), instead of from the embeddings: ablations reuse the layers below them. `ids` then
   * only gives the shape.
   */
  fromLayer?: {layer: number; hidden: Tensor}
}

export interface ForwardOutput {
  logits: Tensor
  hiddenStates?: Tensor[]
  attentions?: Tensor[]
}

export class TeacherModel implements DecodingModel {
  private readonly invFreq: Float64Array

  constructor(
    readonly config: TeacherConfig,
    /** Weights by their transformers names; `lm_head.weight` is the embedding when tied. */
    readonly weights: Map<string, Tensor>,
    readonly backend: Backend,
  ) {
    this.invFreq = inverseFrequencies(config.ropeTheta, config.rotaryDim, config.ropeScaling)
  }

  get vocabSize(): number {
    return this.config.vocabSize
  }

  weight(name: string): Tensor {
    const t = this.weights.get(name)
    if (!t) throw new ShapeError(`the model has no tensor ${name}`)
    return t
  }

  optionalWeight(name: string): Tensor | undefined {
    return this.weights.get(name)
  }

  get lmHead(): Tensor {
    return this.weights.get('lm_head.weight') ?? this.weight('model.embed_tokens.weight')
  }

  /** ids: [B, T] int32 -> logits [B, T, V]. */
  forward(ids: Tensor, opts: ForwardOptions = {}): ForwardOutput {
    return this.run(ids, opts)
  }

  /** A key/value cache [B, capacity, Hkv, D] per layer. */
  newCache(batch: number, capacity: number): DecodeCache {
    const {numLayers, numKvHeads, headDim} = this.config
    const layers = Array.from({length: numLayers}, () => ({kv: KvLayerCache.allocate(this.backend, batch, capacity, numKvHeads, headDim)}))
    return new DecodeCache(batch, capacity, layers)
  }

  /** ids [B, Tnew] at positions cache.length.. -> logits [B, Tnew, V] ([B, 1, V] with lastOnly); the cache advances. */
  forwardCached(ids: Tensor, cache: DecodeCache, opts: CachedForwardOptions = {}): {logits: Tensor} {
    cache.checkRoom(ids.shape[0], ids.shape[1])
    const {logits} = this.run(ids, {}, cache, opts.lastOnly)
    cache.advance(ids.shape[1])
    return {logits}
  }

  /** The forward pass; with a cache, the new tokens sit at positions cache.length.. and attend to the cached ones. */
  private run(ids: Tensor, opts: ForwardOptions, cache?: DecodeCache, lastOnly = false): ForwardOutput {
    if (ids.rank !== 2 || ids.dtype !== 'i32') throw new ShapeError(`input_ids must be int [batch, seq], got ${ids.dtype} [${ids.shape}]`)
    const [, T] = ids.shape
    const cfg = this.config
    const {cos, sin} = this.rotations(cache?.length ?? 0, T)
    const hiddenStates: Tensor[] = []
    const attentions: Tensor[] = []
    let h = opts.fromLayer?.hidden ?? embedding(ids, this.weight('model.embed_tokens.weight'))
    for (let l = opts.fromLayer?.layer ?? 0; l < cfg.numLayers; l++) {
      if (opts.hiddenStates) hiddenStates.push(h)
      const block = cfg.family === 'llama' ? this.llamaBlock(l, h, cos, sin, opts, cache) : this.phiBlock(l, h, cos, sin, opts, cache)
      if (block.probs) attentions.push(block.probs)
      h = block.out
    }
    if (lastOnly && T > 1) h = narrow(h, 1, T - 1, 1)
    h = this.finalNorm(h)
    if (opts.hiddenStates) hiddenStates.push(h)
    // Picking rows is an embedding lookup into the [B·T, C] states.
    if (opts.logitRows) h = embedding(opts.logitRows, h.reshape([-1, cfg.hiddenSize]))
    const logits = linear(h, this.lmHead, this.optionalWeight('lm_head.bias'))
    return {logits, hiddenStates: opts.hiddenStates ? hiddenStates : undefined, attentions: opts.attentions ? attentions : undefined}
  }

  finalNorm(h: Tensor): Tensor {
    const eps = this.config.normEps
    return this.config.family === 'llama'
      ? rmsnorm(h, this.weight('model.norm.weight'), eps)
      : layernorm(h, this.weight('model.final_layernorm.weight'), this.weight('model.final_layernorm.bias'), eps)
  }

  /** RoPE's cos and sin [T, rotaryDim / 2] for positions start..start+T-1. */
  private rotations(start: number, T: number): {cos: Tensor; sin: Tensor} {
    const tables = ropeTables(this.invFreq, start, T)
    const shape = [T, this.config.rotaryDim / 2]
    return {cos: fromArray(this.backend, tables.cos, shape), sin: fromArray(this.backend, tables.sin, shape)}
  }

  /** Layer l's normalised input to attention (Llama's input_layernorm; Phi's, which its MLP shares). */
  private attentionInput(l: number, h: Tensor): Tensor {
    const p = `model.layers.${l}.`
    return this.config.family === 'llama'
      ? rmsnorm(h, this.weight(p + 'input_layernorm.weight'), this.config.normEps)
      : layernorm(h, this.weight(p + 'input_layernorm.weight'), this.weight(p + 'input_layernorm.bias'), this.config.normEps)
  }

  /**
   * Layer l's pre-softmax attention scores [B, Hq, T, T] from h [B, T, C], the residual stream
   * entering it (positions 0..T-1), with the future masked to -1e9; differentiable, unlike the
   * probabilities `attentions` returns. Attention transfer (fixtures/attention-transfer.ts) trains them.
   */
  attentionLogits(l: number, h: Tensor): Tensor {
    const {numHeads: Hq, numKvHeads: Hkv, headDim: D} = this.config
    const T = h.shape[1]
    const {cos, sin} = this.rotations(0, T)
    const {q, k} = this.queriesKeys(l, this.attentionInput(l, h), cos, sin)
    const keys = repeatInterleave(permute(k, [0, 2, 3, 1]), 1, Hq / Hkv)
    const scores = matmul(permute(q, [0, 2, 1, 3]), keys)
    const future = Float32Array.from({length: T * T}, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0))
    return add(scale(scores, 1 / Math.sqrt(D)), fromArray(this.backend, future, [T, T]))
  }

  /** q [B, T, Hq, D] and k [B, T, Hkv, D] of layer l, rotated, from its normalised input x. */
  private queriesKeys(l: number, x: Tensor, cos: Tensor, sin: Tensor): {q: Tensor; k: Tensor} {
    const {numHeads: Hq, numKvHeads: Hkv, rotaryDim} = this.config
    const n = attentionNames(this.config, l)
    return {q: rope(this.project(x, n.q, Hq), cos, sin, rotaryDim), k: rope(this.project(x, n.k, Hkv), cos, sin, rotaryDim)}
  }

  /** x [B, T, C] -> one of the attention projections, [B, T, heads, D]. */
  private project(x: Tensor, name: string, heads: number): Tensor {
    const [B, T] = x.shape
    return linear(x, this.weight(name + '.weight'), this.optionalWeight(name + '.bias')).reshape([B, T, heads, this.config.headDim])
  }

  private llamaBlock(l: number, h: Tensor, cos: Tensor, sin: Tensor, opts: ForwardOptions, cache?: DecodeCache): {out: Tensor; probs?: Tensor} {
    const p = `model.layers.${l}.`
    const eps = this.config.normEps
    const attn = this.selfAttention(l, this.attentionInput(l, h), cos, sin, opts, cache)
    const mid = add(h, attn.out)
    const x = rmsnorm(mid, this.weight(p + 'post_attention_layernorm.weight'), eps)
    const gate = linear(x, this.weight(p + 'mlp.gate_proj.weight'), this.optionalWeight(p + 'mlp.gate_proj.bias'))
    const up = linear(x, this.weight(p + 'mlp.up_proj.weight'), this.optionalWeight(p + 'mlp.up_proj.bias'))
    const down = linear(swiglu(gate, up), this.weight(p + 'mlp.down_proj.weight'), this.optionalWeight(p + 'mlp.down_proj.bias'))
    return {out: add(mid, down), probs: attn.probs}
  }

  private phiBlock(l: number, h: Tensor, cos: Tensor, sin: Tensor, opts: ForwardOptions, cache?: DecodeCache): {out: Tensor; probs?: Tensor} {
    const p = `model.layers.${l}.`
    const x = this.attentionInput(l, h)
    const attn = this.selfAttention(l, x, cos, sin, opts, cache)
    const fc1 = linear(x, this.weight(p + 'mlp.fc1.weight'), this.weight(p + 'mlp.fc1.bias'))
    const mlp = linear(geluNew(fc1), this.weight(p + 'mlp.fc2.weight'), this.weight(p + 'mlp.fc2.bias'))
    return {out: add(add(h, attn.out), mlp), probs: attn.probs}
  }

  /**
   * x [B, T, C] -> o_proj(attention(rope(q), rope(k), v)) [B, T, C]. With a cache, k and v are
   * written into layer l's rows cache.length.. and the queries attend to every cached row.
   */
  selfAttention(l: number, x: Tensor, cos: Tensor, sin: Tensor, opts: ForwardOptions, cache?: DecodeCache): {out: Tensor; probs?: Tensor} {
    const {numHeads: Hq, numKvHeads: Hkv, headDim: D} = this.config
    const [B, T] = x.shape
    const n = attentionNames(this.config, l)
    const {q, k} = this.queriesKeys(l, x, cos, sin)
    const v = this.project(x, n.v, Hkv)
    let out: Tensor
    let probs: Tensor | undefined
    if (cache) {
      const kv = cache.kv(l)
      writeTimeRows(kv.k, k, cache.length)
      writeTimeRows(kv.v, v, cache.length)
      out = cachedAttention(q, kv.k, kv.v, cache.length + T, opts.headMasks?.[l])
    } else {
      ({out, probs} = attention(q, k, v, {headMask: opts.headMasks?.[l], returnProbs: opts.attentions}))
    }
    if (opts.headOutputs) out = opts.headOutputs(l, out)
    const o = linear(out.reshape([B, T, Hq * D]), this.weight(n.o + '.weight'), this.optionalWeight(n.o + '.bias'))
    return {out: o, probs}
  }
}
