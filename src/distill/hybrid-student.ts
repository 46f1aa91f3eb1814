import {ShapeError} from '../errors.js'
import type {Tensor} from '../engine/tensor.js'
import type {HybridModel} from '../models/hybrid.js'
import type {DistillStudent, WeightGroup, WeightRole} from './student.js'

/**
 * A hybrid student (models/hybrid.ts) as the stages see it. Weight groups by name:
 *   model.layers.l.ssm.*                          mixer
 *   model.layers.l.self_attn.*, .adapter.*        attention (kept heads and their adapter)
 *   model.layers.l.mlp.*                          mlp
 *   *layernorm*, model.norm.*                     norm
 *   model.embed_tokens.*                          embedding
 *   lm_head.*                                     head
 */
const LAYER_GROUPS: [RegExp, WeightGroup][] = [
  [/^ssm\./, 'mixer'],
  [/^(self_attn|adapter)\./, 'attention'],
  [/^mlp\./, 'mlp'],
  [/layernorm/, 'norm'],
]

export function describeHybridWeight(name: string): WeightRole {
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name)
  if (m) {
    const group = LAYER_GROUPS.find(([re]) => re.test(m[2]))?.[1]
    if (!group) throw new ShapeError(`cannot tell which part of layer ${m[1]} the weight ${name} belongs to`)
    return {group, layer: Number(m[1])}
  }
  if (name.startsWith('model.embed_tokens.')) return {group: 'embedding'}
  if (name.startsWith('lm_head.')) return {group: 'head'}
  if (/^model\.(norm|final_layernorm)\./.test(name)) return {group: 'norm'}
  throw new ShapeError(`cannot tell which part of the model the weight ${name} belongs to`)
}

export function hybridStudent(model: HybridModel): DistillStudent {
  return {
    backend: model.backend,
    numLayers: model.config.teacher.numLayers,
    vocabSize: model.vocabSize,
    weights: model.weights,
    describe: describeHybridWeight,
    mixingMatrix(l, h) {
      const mixer = model.mixers[l]
      if (!mixer) throw new ShapeError(`layer ${l} keeps all its attention heads: it has no SSM mixing matrix`)
      return mixer.mixingMatrix(model.inputNorm(l, h))
    },
    block: (l, h) => model.block(l, h, model.ropeTables(h.shape[1])).out,
    forward: (ids) => model.forward(ids),
    finalHidden: (ids, recompute) => model.finalHidden(ids, {recompute}),
    head: (h) => model.head(h),
    headWeights: [model.lmHead, model.optionalWeight('lm_head.bias')].filter((t): t is Tensor => t !== undefined),
  }
}
