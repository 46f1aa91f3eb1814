import {join} from 'node:path'
import type {Backend} from '../backend/backend.js'
import {add, embedding, linear, rmsnorm} from '../engine/ops.js'
import type {Tensor} from '../engine/tensor.js'
import {ShapeError} from '../errors.js'
import {parseMamba2Config, type Mamba2ModelConfig} from './mamba2-config.js'
import {readConfigJson} from './load.js'
import {loadWeights, localWeights} from './load-weights.js'
import {Mamba2, mamba2Weights} from './mixers/mamba2.js'

/**
 * transformers' Mamba2ForCausalLM: embeddings -> per layer h += mixer(rmsnorm(h)) -> norm_f ->
 * lm_head. Hidden states follow transformers' convention for Mamba2, which differs from the
 * attention models: hiddenStates[i] is the output of layer i, and the last one is after norm_f.
 * Letters: B batch, T time, V vocab.
 */
export function expectedMamba2Weights(cfg: Mamba2ModelConfig): Map<string, number[]> {
  const w = new Map<string, number[]>()
  w.set('backbone.embeddings.weight', [cfg.vocabSize, cfg.hiddenSize])
  for (let l = 0; l < cfg.numLayers; l++) {
    w.set(`backbone.layers.${l}.norm.weight`, [cfg.hiddenSize])
    for (const [name, shape] of mamba2Weights(cfg.mixer)) w.set(`backbone.layers.${l}.mixer.${name}`, shape)
  }
  w.set('backbone.norm_f.weight', [cfg.hiddenSize])
  if (!cfg.tieWordEmbeddings) w.set('lm_head.weight', [cfg.vocabSize, cfg.hiddenSize])
  return w
}

export class Mamba2Model {
  readonly kind = 'mamba2'
  readonly mixers: Mamba2[]

  constructor(readonly config: Mamba2ModelConfig, readonly weights: Map<string, Tensor>, readonly backend: Backend) {
    this.mixers = Array.from({length: config.numLayers}, (_, l) => new Mamba2(config.mixer, localWeights(weights, `backbone.layers.${l}.mixer.`), backend))
  }

  get vocabSize(): number {
    return this.config.vocabSize
  }

  private weight(name: string): Tensor {
    const t = this.weights.get(name)
    if (!t) throw new ShapeError(`the model has no tensor ${name}`)
    return t
  }

  /** ids [B, T] int32 -> logits [B, T, V]. */
  forward(ids: Tensor, opts: {hiddenStates?: boolean} = {}): {logits: Tensor; hiddenStates?: Tensor[]} {
    if (ids.rank !== 2 || ids.dtype !== 'i32') throw new ShapeError(`input_ids must be int [batch, seq], got ${ids.dtype} [${ids.shape}]`)
    const eps = this.config.normEps
    const hiddenStates: Tensor[] = []
    let h = embedding(ids, this.weight('backbone.embeddings.weight'))
    this.mixers.forEach((mixer, l) => {
      h = add(h, mixer.forward(rmsnorm(h, this.weight(`backbone.layers.${l}.norm.weight`), eps)).out)
      if (opts.hiddenStates) hiddenStates.push(h)
    })
    h = rmsnorm(h, this.weight('backbone.norm_f.weight'), eps)
    if (opts.hiddenStates) hiddenStates.push(h)
    const logits = linear(h, this.weights.get('lm_head.weight') ?? this.weight('backbone.embeddings.weight'))
    return {logits, hiddenStates: opts.hiddenStates ? hiddenStates : undefined}
  }
}

export async function loadMamba2(folder: string, backend: Backend): Promise<Mamba2Model> {
  const config = parseMamba2Config(await readConfigJson(folder), join(folder, 'config.json'))
  return new Mamba2Model(config, await loadWeights(folder, expectedMamba2Weights(config), config.architecture, backend), backend)
}
