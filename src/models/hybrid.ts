import {join} from 'node:path'
import type {Backend} from '../backend/backend.js'
import type {Tensor} from '../engine/tensor.js'
import {DecodeCache, KvLayerCache, SsmLayerCache, type CacheOptions} from './decode-cache.js'
import {Decoder, type AttentionHeads, type DecoderOptions, type MixOutput, type RopeTables} from './decoder.js'
import type {DecodingModel} from './decoding-model.js'
import {layerKind, parseHybridConfig, type HybridConfig, type LayerKind} from './hybrid-config.js'
import {combineAdapter} from './hybrid-layer.js'
import {expectedHybridWeights} from './hybrid-weights.js'
import {readConfigJson} from './load.js'
import {loadWeights, localWeights} from './load-weights.js'
import {mixCached} from './mixer-decode.js'
import {createMixer} from './mixers/create.js'
import type {SsmMixer} from './mixers/mixer.js'

/**
 * A hybrid student at head granularity (hybrid-config.ts): the decoder (decoder.ts) on the teacher's
 * skeleton (embeddings, norms, MLPs, Llama's sequential or Phi's parallel block) with each layer's
 * mixer an SSM, the kept attention heads, or both through the adapter.
 * Letters: B batch, T time, C hidden, V vocab, H heads, k kept heads, D head dim.
 */
export class HybridModel extends Decoder implements DecodingModel {
  readonly kind = 'hybrid'
  readonly mixers: (SsmMixer | undefined)[]

  constructor(readonly config: HybridConfig, weights: Map<string, Tensor>, backend: Backend) {
    super(config.teacher, weights, backend)
    this.mixers = config.layers.map((_, l) =>
      layerKind(config, l) === 'attention' ? undefined : createMixer(config.mixer, localWeights(weights, `model.layers.${l}.ssm.`), backend),
    )
  }

  layerKind(l: number): LayerKind {
    return layerKind(this.config, l)
  }

  /** Per layer: a KV cache for its attention heads (all, or the kept ones), the SSM state for its mixer. */
  newCache(batch: number, capacity: number, opts: CacheOptions = {}): DecodeCache {
    const t = this.config.teacher
    return new DecodeCache(batch, capacity, this.config.layers.map((_, l) => {
      const kind = this.layerKind(l)
      return {
        kv: kind === 'ssm' ? undefined : KvLayerCache.allocate(this.backend, batch, capacity, this.attentionHeads(l).kvHeads, t.headDim, opts.kvDtype),
        ssm: this.mixers[l] && new SsmLayerCache(this.mixers[l]!.zeroState(batch) as object),
      }
    }))
  }

  /**
   * The token mixer of layer l on the normed input x [B, T, C]: SSM, attention, or both through the
   * adapter. With a cache, x continues the cached sequence and the layer's state moves past it.
   */
  protected mix(l: number, x: Tensor, tables: RopeTables, opts: DecoderOptions, cache?: DecodeCache): MixOutput {
    const mixer = this.mixers[l]
    const kind = this.layerKind(l)
    const hook = opts.ssmHeadOutputs
    const s = mixer && (cache ? mixCached(mixer, x, cache.ssm(l)) : mixer.forward(x, {headOutputs: hook && ((y) => hook(l, y))}).out)
    const mixingMatrix = opts.mixingMatrices ? mixer?.mixingMatrix(x) : undefined
    if (kind === 'ssm') return {out: s!, mixingMatrix}
    const a = this.attend(l, x, tables, this.attentionHeads(l), opts, cache)
    if (kind === 'attention') return {out: a.out, probs: a.probs}
    const p = `model.layers.${l}.adapter.out_proj.`
    return {out: combineAdapter(s!, a.out, this.weight(p + 'weight'), this.weight(p + 'bias'), this.config.adapterEps), mixingMatrix, probs: a.probs}
  }

  /** Layer l's attention heads: the teacher's GQA in an attention layer, else the kept heads, each with its own K and V. */
  private attentionHeads(l: number): AttentionHeads {
    const kept = this.config.layers[l].attentionHeads.length
    return {heads: kept, kvHeads: this.layerKind(l) === 'attention' ? this.config.teacher.numKvHeads : kept}
  }
}

export async function loadHybrid(folder: string, backend: Backend): Promise<HybridModel> {
  const config = parseHybridConfig(await readConfigJson(folder), join(folder, 'config.json'))
  return new HybridModel(config, await loadWeights(folder, expectedHybridWeights(config), 'hybridize hybrid', backend), backend)
}
