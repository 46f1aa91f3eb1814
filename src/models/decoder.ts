import type {Backend} from '../backend/backend.js'
import {currentTape} from '../engine/autograd.js'
import {checkpoint} from '../engine/checkpoint.js'
import {cachedAttention, writeTimeRows} from '../engine/decode-ops.js'
import {narrow} from '../engine/layout-ops.js'
import {attention, embedding, linear, rope} from '../engine/ops.js'
import {withDecoding} from '../engine/precision.js'
import {fromArray, scope, type Tensor} from '../engine/tensor.js'
import {ShapeError} from '../errors.js'
import {BLOCK_SHAPES, type BlockShape, type WeightSource} from './block-shape.js'
import type {TeacherConfig} from './config.js'
import type {CacheOptions, DecodeCache} from './decode-cache.js'
import type {CachedForwardOptions} from './decoding-model.js'
import {inverseFrequencies, ropeTables} from './rope-tables.js'
import {attentionNames} from './teacher-weights.js'

/**
 * The decoder every teacher and hybrid is: embedding -> per layer (the family's block shape around
 * the layer's token mixer) -> final norm -> LM head, with RoPE tables and the decode cache. A model
 * says only what each layer's mixer is (`mix`): the teacher attends with every head; a hybrid runs
 * an SSM, its kept heads, or both. Written once over tensor ops, so it runs on every backend.
 * Letters: B batch, T time, C hidden, V vocab, Hq/Hkv heads, D head dim.
 */
export interface DecoderOptions {
  /** Return hidden_states.i: the input of layer i, and after the last layer the final-normed state. */
  hiddenStates?: boolean
  /** Per layer, the attention probabilities [B, heads, T, T] (undefined for layers without attention). */
  attentions?: boolean
  /** Per layer, the SSM's mixing matrix [B, H, T, T] (undefined for layers without one): MOHAWK stage 1. */
  mixingMatrices?: boolean
  /** Per layer, multipliers on each attention head's output (0 ablates a head). */
  headMasks?: (Tensor | undefined)[]
  /**
   * Edit each layer's per-head attention outputs z [B, T, heads, D] before the output projection
   * (TransformerLens `hook_z`): return z or a replacement of its shape. Per-row ablations use it.
   */
  headOutputs?: (layer: number, z: Tensor) => Tensor
  /** The same for each layer's SSM heads: the mixer's per-head output y [B, T, H, P] before its output projection. */
  ssmHeadOutputs?: (layer: number, y: Tensor) => Tensor
  /** Logits only for these rows of the flattened [B·T] positions (i32 [N]); logits are then [N, V]. */
  logitRows?: Tensor
  /**
   * Start at this layer from `hidden` [B, T, C], the residual stream entering it (as `hiddenStates`
   * returns it), instead of from the embeddings: ablations reuse the layers below them. `ids` then
   * only gives the shape.
   */
  fromLayer?: {layer: number; hidden: Tensor}
  /**
   * Keep only each layer's input for the backward and recompute the layer's activations there
   * (engine/checkpoint.ts): training memory of one layer's activations instead of all of them, for
   * a second forward. Not with attentions, mixing matrices or a cache.
   */
  recompute?: boolean
}

export interface DecoderOutput {
  logits: Tensor
  hiddenStates?: Tensor[]
  attentions?: (Tensor | undefined)[]
  mixingMatrices?: (Tensor | undefined)[]
}

/** RoPE tables for positions start..start+T-1, [T, rotaryDim/2] each. */
export interface RopeTables {
  cos: Tensor
  sin: Tensor
}

/** One layer's token mixer output [B, T, C], with what the options asked of it. */
export interface MixOutput {
  out: Tensor
  probs?: Tensor
  mixingMatrix?: Tensor
}

/** Which attention heads a layer runs: `heads` query heads over `kvHeads` key/value heads. */
export interface AttentionHeads {
  heads: number
  kvHeads: number
}

export abstract class Decoder implements WeightSource {
  readonly shape: BlockShape
  private readonly invFreq: Float64Array

  constructor(
    /** The skeleton: sizes, family, norms and RoPE (a hybrid's is its teacher's). */
    readonly skeleton: TeacherConfig,
    /** Weights by their transformers names; `lm_head.weight` is the embedding when tied. */
    readonly weights: Map<string, Tensor>,
    readonly backend: Backend,
  ) {
    this.shape = BLOCK_SHAPES[skeleton.family]
    this.invFreq = inverseFrequencies(skeleton.ropeTheta, skeleton.rotaryDim, skeleton.ropeScaling)
  }

  /** Layer l's token mixer on its normalised input x [B, T, C]; with a cache, x continues the cached sequence. */
  protected abstract mix(l: number, x: Tensor, tables: RopeTables, opts: DecoderOptions, cache?: DecodeCache): MixOutput

  abstract newCache(batch: number, capacity: number, opts?: CacheOptions): DecodeCache

  get vocabSize(): number {
    return this.skeleton.vocabSize
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
  forward(ids: Tensor, opts: DecoderOptions = {}): DecoderOutput {
    return this.run(ids, opts)
  }

  /** ids [B, Tnew] at positions cache.length.. -> logits [B, Tnew, V] ([B, 1, V] with lastOnly); the cache advances. */
  forwardCached(ids: Tensor, cache: DecodeCache, opts: CachedForwardOptions = {}): {logits: Tensor} {
    cache.checkRoom(ids.shape[0], ids.shape[1])
    const {logits} = withDecoding(() => this.run(ids, {}, cache, opts.lastOnly))
    cache.advance(ids.shape[1])
    return {logits}
  }

  /** The final-normed hidden state [B, T, C] before the LM head (a caller applying the head in pieces starts here). */
  finalHidden(ids: Tensor, opts: DecoderOptions = {}): Tensor {
    return this.layers(ids, opts).h
  }

  /**
   * hidden_states.0..upTo without the LM head: the residual stream entering layers 0..upTo-1, and
   * for upTo = numLayers the final-normed state after the last layer. Runs only the layers below
   * `upTo`, and the final norm only when it is asked for (MOHAWK stages 1-2 need no logits).
   */
  hiddenStates(ids: Tensor, upTo = this.skeleton.numLayers): Tensor[] {
    if (!Number.isInteger(upTo) || upTo < 0 || upTo > this.skeleton.numLayers) throw new ShapeError(`hidden states up to ${upTo}: the model has ${this.skeleton.numLayers} layers`)
    return this.layers(ids, {hiddenStates: true}, undefined, false, upTo).hiddenStates
  }

  /** The LM head on final-normed states [..., C] -> logits [..., V] (a caller applying it in pieces starts from `finalHidden`). */
  head(h: Tensor): Tensor {
    return linear(h, this.lmHead, this.optionalWeight('lm_head.bias'))
  }

  /** Tables for positions start..start+T-1. */
  ropeTables(T: number, start = 0): RopeTables {
    const {cos, sin} = ropeTables(this.invFreq, start, T)
    const shape = [T, this.skeleton.rotaryDim / 2]
    return {cos: fromArray(this.backend, cos, shape), sin: fromArray(this.backend, sin, shape)}
  }

  /** The norm at the start of layer l: its token mixer's input (Phi's MLP reads it too). */
  inputNorm(l: number, h: Tensor): Tensor {
    return this.shape.inputNorm(this, l, h, this.skeleton.normEps)
  }

  finalNorm(h: Tensor): Tensor {
    return this.shape.finalNorm(this, h, this.skeleton.normEps)
  }

  /** Layer l on its input h [B, T, C] (MOHAWK stage 2 feeds it the teacher's hidden state). */
  block(l: number, h: Tensor, tables: RopeTables, opts: DecoderOptions = {}, cache?: DecodeCache): MixOutput {
    const x = this.inputNorm(l, h)
    const m = this.mix(l, x, tables, opts, cache)
    return {...m, out: this.shape.finish(this, l, h, x, m.out, this.skeleton.normEps)}
  }

  /** The forward pass; with a cache, the new tokens sit at positions cache.length.. and attend to the cached ones. */
  private run(ids: Tensor, opts: DecoderOptions, cache?: DecodeCache, lastOnly = false): DecoderOutput {
    const {h: final, hiddenStates, attentions, mixingMatrices} = this.layers(ids, opts, cache, lastOnly)
    // Picking rows is an embedding lookup into the [B·T, C] states.
    const h = opts.logitRows ? embedding(opts.logitRows, final.reshape([-1, this.skeleton.hiddenSize])) : final
    return {
      logits: this.head(h),
      hiddenStates: opts.hiddenStates ? hiddenStates : undefined,
      attentions: opts.attentions ? attentions : undefined,
      mixingMatrices: opts.mixingMatrices ? mixingMatrices : undefined,
    }
  }

  /** Layers from 0 (or opts.fromLayer) below `upTo`; the final norm only after the last layer. */
  private layers(ids: Tensor, opts: DecoderOptions, cache?: DecodeCache, lastOnly = false, upTo = this.skeleton.numLayers): {h: Tensor; hiddenStates: Tensor[]; attentions: (Tensor | undefined)[]; mixingMatrices: (Tensor | undefined)[]} {
    if (ids.rank !== 2 || ids.dtype !== 'i32') throw new ShapeError(`input_ids must be int [batch, seq], got ${ids.dtype} [${ids.shape}]`)
    const T = ids.shape[1]
    const tables = this.ropeTables(T, cache?.length ?? 0)
    const hiddenStates: Tensor[] = []
    const attentions: (Tensor | undefined)[] = []
    const mixingMatrices: (Tensor | undefined)[] = []
    // With no tape nothing needs a layer's intermediates once it has run (a teacher's forward in
    // distillation, eval): each layer's are freed before the next runs. A head-output hook may hold
    // on to what it is given, and a cache may take a layer's new state, so those keep them all.
    const freeEachLayer = currentTape() === undefined && !opts.headOutputs && !opts.ssmHeadOutputs && !cache
    let h = opts.fromLayer?.hidden ?? embedding(ids, this.weight('model.embed_tokens.weight'))
    for (let l = opts.fromLayer?.layer ?? 0; l < upTo; l++) {
      if (opts.hiddenStates) hiddenStates.push(h)
      const block = opts.recompute && !cache
        ? {out: this.recomputedBlock(l, h, tables, opts)} as MixOutput
        : freeEachLayer ? scope(() => this.block(l, h, tables, opts, cache)) : this.block(l, h, tables, opts, cache)
      attentions.push(block.probs)
      mixingMatrices.push(block.mixingMatrix)
      h = block.out
    }
    if (upTo < this.skeleton.numLayers) {
      if (opts.hiddenStates) hiddenStates.push(h)
      return {h, hiddenStates, attentions, mixingMatrices}
    }
    if (lastOnly && T > 1) h = narrow(h, 1, T - 1, 1)
    h = this.finalNorm(h)
    if (opts.hiddenStates) hiddenStates.push(h)
    return {h, hiddenStates, attentions, mixingMatrices}
  }

  /** Layer l's output with its activations recomputed in the backward; the RoPE tables go on the tape as inputs so they outlive the forward. */
  private recomputedBlock(l: number, h: Tensor, tables: RopeTables, opts: DecoderOptions): Tensor {
    if (opts.attentions || opts.mixingMatrices) throw new ShapeError('recompute gives no attention probabilities or mixing matrices')
    const prefix = `model.layers.${l}.`
    const weights = [...this.weights].filter(([name]) => name.startsWith(prefix)).map(([, t]) => t)
    return checkpoint(([x, cos, sin]) => this.block(l, x, {cos, sin}, opts).out, [h, tables.cos, tables.sin], weights)
  }

  /** x [B, T, C] -> one of layer l's attention projections, [B, T, heads, D]. */
  protected project(x: Tensor, name: string, heads: number): Tensor {
    const [B, T] = x.shape
    return linear(x, this.weight(name + '.weight'), this.optionalWeight(name + '.bias')).reshape([B, T, heads, this.skeleton.headDim])
  }

  /** q [B, T, heads, D] and k [B, T, kvHeads, D] of layer l, rotated, from its normalised input x. */
  protected queriesKeys(l: number, x: Tensor, tables: RopeTables, {heads, kvHeads}: AttentionHeads): {q: Tensor; k: Tensor} {
    const n = attentionNames(this.skeleton, l)
    const {rotaryDim} = this.skeleton
    return {q: rope(this.project(x, n.q, heads), tables.cos, tables.sin, rotaryDim), k: rope(this.project(x, n.k, kvHeads), tables.cos, tables.sin, rotaryDim)}
  }

  /**
   * Layer l's attention over `heads` on x [B, T, C] -> o_proj(attention(rope(q), rope(k), v)) [B, T, C].
   * With a cache, k and v are written into layer l's rows cache.length.. and the queries attend to
   * every cached row.
   */
  protected attend(l: number, x: Tensor, tables: RopeTables, heads: AttentionHeads, opts: DecoderOptions, cache?: DecodeCache): MixOutput {
    const [B, T] = x.shape
    const n = attentionNames(this.skeleton, l)
    const {q, k} = this.queriesKeys(l, x, tables, heads)
    const v = this.project(x, n.v, heads.kvHeads)
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
    return {out: linear(out.reshape([B, T, heads.heads * this.skeleton.headDim]), this.weight(n.o + '.weight'), this.optionalWeight(n.o + '.bias')), probs}
  }
}
