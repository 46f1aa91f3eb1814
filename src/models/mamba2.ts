import {join} from 'node:path'
import type {Backend} from '../backend/backend.js'
import {narrow} from '../engine/layout-ops.js'
import {add, embedding, linear, rmsnorm} from '../engine/ops.js'
import type {Tensor} from '../engine/tensor.js'
import {withDecoding} from '../engine/precision.js'
import {ShapeError} from '../errors.js'
import {DecodeCache, SsmLayerCache} from './decode-cache.js'
import type {CachedForwardOptions, DecodingModel} from './decoding-model.js'
import {parseMamba2Config, type Mamba2ModelConfig} from './mamba2-config.js'
import {readConfigJson} from './load.js'
import {loadWeights, localWeights} from './load-weights.js'
import {mixCached} from './mixer-decode.js'
import {createMixer, mixerWeightShapes} from './mixers/create.js'
import type {SsmMixer} from './mixers/mixer.js'

/**
 * transformers' Mamba2ForCausalLM: embeddings -> per layer h += mixer(rmsnorm(h)) -> norm_f ->
 * lm_head (the mixer Mamba-2, or Mamba-3 in mamba_ssm's MambaLMHeadModel: mamba-ssm.ts). Hidden states follow transformers' convention for Mamba2, which differs from the
 * attention models: hiddenStates[i] is the output of layer i, and the last one is after norm_f.
 * Letters: B batch, T time, V vocab.
 */
export function expectedMamba2Weights(cfg: Mamba2ModelConfig): Map<string, number[]> {
  const w = new Map<string, number[]>()
  w.set('backbone.embeddings.weight', [cfg.vocabSize, cfg.hiddenSize])
  for (let l = 0; l < cfg.numLayers; l++) {
    w.set(`backbone.layers.${l}.norm.weight`, [cfg.hiddenSize])
    for (const [name, shape] of mixerWeightShapes(cfg.mixer)) w.set(`backbone.layers.${l}.mixer.${name}`, shape)
  }
  w.set('backbone.norm_f.weight', [cfg.hiddenSize])
  if (!cfg.tieWordEmbeddings) w.set('lm_head.weight', [cfg.vocabSize, cfg.hiddenSize])
  return w
}

export interface Mamba2ForwardOptions {
  hiddenStates?: boolean
  logitRows?: Tensor
}

export class Mamba2Model implements DecodingModel {
  readonly kind = 'mamba2'
  readonly mixers: SsmMixer[]

  constructor(readonly config: Mamba2ModelConfig, readonly weights: Map<string, Tensor>, readonly backend: Backend) {
    this.mixers = Array.from({length: config.numLayers}, (_, l) => createMixer(config.mixer, localWeights(weights, `backbone.layers.${l}.mixer.`), backend))
  }

  get vocabSize(): number {
    return this.config.vocabSize
  }

  private weight(name: string): Tensor {
    const t = this.weights.get(name)
    if (!t) throw new ShapeError(`the model has no tensor ${name}`)
    return t
  }

  /** ids [B, T] int32 -> logits [B, T, V], or [N, V] for `logitRows` (i32 [N] rows of the flattened [B·T] positions). */
  forward(ids: Tensor, opts: Mamba2ForwardOptions = {}): {logits: Tensor; hiddenStates?: Tensor[]} {
    return this.run(ids, opts)
  }

  /** Each layer's conv window and SSM state, zero; the same size whatever the capacity (no key/value cache to type). */
  newCache(batch: number, capacity: number): DecodeCache {
    return new DecodeCache(batch, capacity, this.mixers.map((m) => ({ssm: new SsmLayerCache(m.zeroState(batch) as object)})))
  }

  /** ids [B, Tnew] continuing the cached sequence -> logits [B, Tnew, V] ([B, 1, V] with lastOnly); the cache advances. */
  forwardCached(ids: Tensor, cache: DecodeCache, opts: CachedForwardOptions = {}): {logits: Tensor} {
    cache.checkRoom(ids.shape[0], ids.shape[1])
    const {logits} = withDecoding(() => this.run(ids, {}, cache, opts.lastOnly))
    cache.advance(ids.shape[1])
    return {logits}
  }

  private run(ids: Tensor, opts: Mamba2ForwardOptions, cache?: DecodeCache, lastOnly = false): {logits: Tensor; hiddenStates?: Tensor[]} {
    if (ids.rank !== 2 || ids.dtype !== 'i32') throw new ShapeError(`input_ids must be int [batch, seq], got ${ids.dtype} [${ids.shape}]`)
    const eps = this.config.normEps
    const hiddenStates: Tensor[] = []
    let h = embedding(ids, this.weight('backbone.embeddings.weight'))
    this.mixers.forEach((mixer, l) => {
      const x = rmsnorm(h, this.weight(`backbone.layers.${l}.norm.weight`), eps)
      h = add(h, cache ? mixCached(mixer, x, cache.ssm(l)) : mixer.forward(x).out)
      if (opts.hiddenStates) hiddenStates.push(h)
    })
    if (lastOnly && ids.shape[1] > 1) h = narrow(h, 1, ids.shape[1] - 1, 1)
    h = rmsnorm(h, this.weight('backbone.norm_f.weight'), eps)
    if (opts.hiddenStates) hiddenStates.push(h)
    if (opts.logitRows) h = embedding(opts.logitRows, h.reshape([-1, h.shape.at(-1)!]))
    const logits = linear(h, this.weights.get('lm_head.weight') ?? this.weight('backbone.embeddings.weight'))
    return {logits, hiddenStates: opts.hiddenStates ? hiddenStates : undefined}
  }
}

export async function loadMamba2(folder: string, backend: Backend): Promise<Mamba2Model> {
  const config = parseMamba2Config(await readConfigJson(folder), join(folder, 'config.json'))
  return new Mamba2Model(config, await loadWeights(folder, expectedMamba2Weights(config), config.architecture, backend), backend)
}
