import {join} from 'node:path'
import type {Backend} from '../backend/backend.js'
import {cachedAttention, writeTimeRows} from '../engine/decode-ops.js'
import {narrow} from '../engine/layout-ops.js'
import {add, attention, embedding, geluNew, layernorm, linear, rmsnorm, rope, swiglu} from '../engine/ops.js'
import {fromArray, type Tensor} from '../engine/tensor.js'
import {ShapeError} from '../errors.js'
import {DecodeCache, KvLayerCache, SsmLayerCache} from './decode-cache.js'
import type {CachedForwardOptions, DecodingModel} from './decoding-model.js'
import {layerKind, parseHybridConfig, type HybridConfig, type LayerKind} from './hybrid-config.js'
import {combineAdapter} from './hybrid-layer.js'
import {expectedHybridWeights} from './hybrid-weights.js'
import {readConfigJson} from './load.js'
import {loadWeights, localWeights} from './load-weights.js'
import {mixCached} from './mixer-decode.js'
import {createMixer} from './mixers/create.js'
import type {SsmMixer} from './mixers/mixer.js'
import {inverseFrequencies, ropeTables} from './rope-tables.js'
import {attentionNames} from './teacher-weights.js'

/**
 * A hybrid student at head granularity (hybrid-config.ts): the teacher's skeleton (embeddings,
 * norms, MLPs, Llama's sequential or Phi's parallel block) with each layer's attention replaced by
 * an SSM mixer, the kept attention heads, or both through the adapter.
 * Letters: B batch, T time, C hidden, V vocab, H heads, k kept heads, D head dim.
 */
export interface HybridForwardOptions {
  /** hidden_states.i as the teacher returns them: the input of layer i, then the final-normed state. */
  hiddenStates?: boolean
  /** Per layer, the SSM's mixing matrix [B, H, T, T] (undefined for attention layers): MOHAWK stage 1. */
  mixingMatrices?: boolean
  /** Per layer, the kept heads' attention probabilities [B, k, T, T] (undefined for SSM layers). */
  attentions?: boolean
  /** Per layer, [k] multipliers on the kept heads' outputs (0 ablates a head). */
  headMasks?: (Tensor | undefined)[]
  /** Logits only for these rows of the flattened [B·T] positions (i32 [N]); logits are then [N, V]. */
  logitRows?: Tensor
}

export interface HybridForwardOutput {
  logits: Tensor
  hiddenStates?: Tensor[]
  mixingMatrices?: (Tensor | undefined)[]
  attentions?: (Tensor | undefined)[]
}

/** RoPE tables for positions 0..T-1, [T, rotaryDim/2] each. */
export interface RopeTables {
  cos: Tensor
  sin: Tensor
}

interface BlockOutput {
  out: Tensor
  mixingMatrix?: Tensor
  probs?: Tensor
}

export class HybridModel implements DecodingModel {
  readonly kind = 'hybrid'
  readonly mixers: (SsmMixer | undefined)[]
  private readonly invFreq: Float64Array

  constructor(readonly config: HybridConfig, readonly weights: Map<string, Tensor>, readonly backend: Backend) {
    const t = config.teacher
    this.invFreq = inverseFrequencies(t.ropeTheta, t.rotaryDim, t.ropeScaling)
    this.mixers = config.layers.map((_, l) =>
      layerKind(config, l) === 'attention' ? undefined : createMixer(config.mixer, localWeights(weights, `model.layers.${l}.ssm.`), backend),
    )
  }

  get vocabSize(): number {
    return this.config.teacher.vocabSize
  }

  layerKind(l: number): LayerKind {
    return layerKind(this.config, l)
  }

  private weight(name: string): Tensor {
    const t = this.weights.get(name)
    if (!t) throw new ShapeError(`the model has no tensor ${name}`)
    return t
  }

  /** Tables for positions start..start+T-1. */
  ropeTables(T: number, start = 0): RopeTables {
    const {cos, sin} = ropeTables(this.invFreq, start, T)
    const half = this.config.teacher.rotaryDim / 2
    return {cos: fromArray(this.backend, cos, [T, half]), sin: fromArray(this.backend, sin, [T, half])}
  }

  /** ids [B, T] int32 -> logits [B, T, V]. */
  forward(ids: Tensor, opts: HybridForwardOptions = {}): HybridForwardOutput {
    return this.run(ids, opts)
  }

  /** Per layer: a KV cache for its attention heads (all, or the kept ones), the SSM state for its mixer. */
  newCache(batch: number, capacity: number): DecodeCache {
    const t = this.config.teacher
    return new DecodeCache(batch, capacity, this.config.layers.map((layer, l) => {
      const kind = this.layerKind(l)
      const kvHeads = kind === 'attention' ? t.numKvHeads : layer.attentionHeads.length
      return {
        kv: kind === 'ssm' ? undefined : KvLayerCache.allocate(this.backend, batch, capacity, kvHeads, t.headDim),
        ssm: this.mixers[l] && new SsmLayerCache(this.mixers[l]!.zeroState(batch) as object),
      }
    }))
  }

  /** ids [B, Tnew] at positions cache.length.. -> logits [B, Tnew, V] ([B, 1, V] with lastOnly); the cache advances. */
  forwardCached(ids: Tensor, cache: DecodeCache, opts: CachedForwardOptions = {}): {logits: Tensor} {
    cache.checkRoom(ids.shape[0], ids.shape[1])
    const {logits} = this.run(ids, {}, cache, opts.lastOnly)
    cache.advance(ids.shape[1])
    return {logits}
  }

  /** The forward pass; with a cache, the new tokens continue the cached sequence. */
  private run(ids: Tensor, opts: HybridForwardOptions, cache?: DecodeCache, lastOnly = false): HybridForwardOutput {
    if (ids.rank !== 2 || ids.dtype !== 'i32') throw new ShapeError(`input_ids must be int [batch, seq], got ${ids.dtype} [${ids.shape}]`)
    const t = this.config.teacher
    const T = ids.shape[1]
    const tables = this.ropeTables(T, cache?.length ?? 0)
    const hiddenStates: Tensor[] = []
    const mixingMatrices: (Tensor | undefined)[] = []
    const attentions: (Tensor | undefined)[] = []
    let h = embedding(ids, this.weight('model.embed_tokens.weight'))
    for (let l = 0; l < t.numLayers; l++) {
      if (opts.hiddenStates) hiddenStates.push(h)
      const block = this.block(l, h, tables, opts, cache)
      mixingMatrices.push(block.mixingMatrix)
      attentions.push(block.probs)
      h = block.out
    }
    if (lastOnly && T > 1) h = narrow(h, 1, T - 1, 1)
    h = this.finalNorm(h)
    if (opts.hiddenStates) hiddenStates.push(h)
    if (opts.logitRows) h = embedding(opts.logitRows, h.reshape([-1, t.hiddenSize]))
    const logits = linear(h, this.weights.get('lm_head.weight') ?? this.weight('model.embed_tokens.weight'), this.weights.get('lm_head.bias'))
    return {
      logits,
      hiddenStates: opts.hiddenStates ? hiddenStates : undefined,
      mixingMatrices: opts.mixingMatrices ? mixingMatrices : undefined,
      attentions: opts.attentions ? attentions : undefined,
    }
  }

  finalNorm(h: Tensor): Tensor {
    const t = this.config.teacher
    return t.family === 'llama'
      ? rmsnorm(h, this.weight('model.norm.weight'), t.normEps)
      : layernorm(h, this.weight('model.final_layernorm.weight'), this.weight('model.final_layernorm.bias'), t.normEps)
  }

  /** The norm at the start of layer l: its token mixer's input (Phi's MLP reads it too). */
  inputNorm(l: number, h: Tensor): Tensor {
    const t = this.config.teacher
    const p = `model.layers.${l}.input_layernorm.`
    return t.family === 'llama' ? rmsnorm(h, this.weight(p + 'weight'), t.normEps) : layernorm(h, this.weight(p + 'weight'), this.weight(p + 'bias'), t.normEps)
  }

  /** Layer l on its input h [B, T, C] (MOHAWK stage 2 feeds it the teacher's hidden state). */
  block(l: number, h: Tensor, tables: RopeTables, opts: HybridForwardOptions = {}, cache?: DecodeCache): BlockOutput {
    const t = this.config.teacher
    const p = `model.layers.${l}.`
    const opt = (name: string): Tensor | undefined => this.weights.get(p + name)
    if (t.family === 'llama') {
      const m = this.mix(l, this.inputNorm(l, h), tables, opts, cache)
      const mid = add(h, m.out)
      const x = rmsnorm(mid, this.weight(p + 'post_attention_layernorm.weight'), t.normEps)
      const gate = linear(x, this.weight(p + 'mlp.gate_proj.weight'), opt('mlp.gate_proj.bias'))
      const up = linear(x, this.weight(p + 'mlp.up_proj.weight'), opt('mlp.up_proj.bias'))
      return {...m, out: add(mid, linear(swiglu(gate, up), this.weight(p + 'mlp.down_proj.weight'), opt('mlp.down_proj.bias')))}
    }
    const x = this.inputNorm(l, h)
    const m = this.mix(l, x, tables, opts, cache)
    const mlp = linear(geluNew(linear(x, this.weight(p + 'mlp.fc1.weight'), this.weight(p + 'mlp.fc1.bias'))), this.weight(p + 'mlp.fc2.weight'), this.weight(p + 'mlp.fc2.bias'))
    return {...m, out: add(add(h, m.out), mlp)}
  }

  /**
   * The token mixer of layer l on the normed input x [B, T, C]: SSM, attention, or both through the
   * adapter. With a cache, x continues the cached sequence and the layer's state moves past it.
   */
  mix(l: number, x: Tensor, tables: RopeTables, opts: HybridForwardOptions = {}, cache?: DecodeCache): BlockOutput {
    const mixer = this.mixers[l]
    const kind = this.layerKind(l)
    const s = mixer && (cache ? mixCached(mixer, x, cache.ssm(l)) : mixer.forward(x).out)
    const mixingMatrix = opts.mixingMatrices ? mixer?.mixingMatrix(x) : undefined
    if (kind === 'ssm') return {out: s!, mixingMatrix}
    const a = this.attend(l, x, tables, opts, cache)
    if (kind === 'attention') return {out: a.out, probs: a.probs}
    const p = `model.layers.${l}.adapter.out_proj.`
    return {out: combineAdapter(s!, a.out, this.weight(p + 'weight'), this.weight(p + 'bias'), this.config.adapterEps), mixingMatrix, probs: a.probs}
  }

  /** Attention over layer l's kept heads (all of them, with the teacher's GQA, in an attention layer). */
  private attend(l: number, x: Tensor, tables: RopeTables, opts: HybridForwardOptions, cache?: DecodeCache): {out: Tensor; probs?: Tensor} {
    const t = this.config.teacher
    const [B, T] = x.shape
    const D = t.headDim
    const kept = this.config.layers[l].attentionHeads.length
    const kv = this.layerKind(l) === 'attention' ? t.numKvHeads : kept
    const n = attentionNames(t, l)
    const proj = (name: string, heads: number): Tensor => linear(x, this.weight(name + '.weight'), this.weights.get(name + '.bias')).reshape([B, T, heads, D])
    const q = rope(proj(n.q, kept), tables.cos, tables.sin, t.rotaryDim)
    const k = rope(proj(n.k, kv), tables.cos, tables.sin, t.rotaryDim)
    const v = proj(n.v, kv)
    let out: Tensor
    let probs: Tensor | undefined
    if (cache) {
      const c = cache.kv(l)
      writeTimeRows(c.k, k, cache.length)
      writeTimeRows(c.v, v, cache.length)
      out = cachedAttention(q, c.k, c.v, cache.length + T, opts.headMasks?.[l])
    } else {
      ({out, probs} = attention(q, k, v, {headMask: opts.headMasks?.[l], returnProbs: opts.attentions}))
    }
    return {out: linear(out.reshape([B, T, kept * D]), this.weight(n.o + '.weight'), this.weights.get(n.o + '.bias')), probs}
  }
}

export async function loadHybrid(folder: string, backend: Backend): Promise<HybridModel> {
  const config = parseHybridConfig(await readConfigJson(folder), join(folder, 'config.json'))
  return new HybridModel(config, await loadWeights(folder, expectedHybridWeights(config), 'hybridize hybrid', backend), backend)
}
