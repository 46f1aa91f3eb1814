import {BLOCK_SHAPES} from './block-shape.js'
import type {TeacherConfig} from './config.js'

/**
 * The tensors a teacher checkpoint must hold, with their shapes, named as transformers names them:
 * per layer its attention, then what the family's block shape puts around it (block-shape.ts).
 * The order is the checkpoint's, which fixtures/init-weights.ts draws its streams in.
 * Letters: V vocab, C hidden, Hq/Hkv heads, D head dim.
 */
export function expectedTeacherWeights(cfg: TeacherConfig): Map<string, number[]> {
  const {vocabSize: V, hiddenSize: C} = cfg
  const shape = BLOCK_SHAPES[cfg.family]
  const w = new Map<string, number[]>()
  w.set('model.embed_tokens.weight', [V, C])
  for (let l = 0; l < cfg.numLayers; l++) {
    for (const [name, dims] of attentionWeights(cfg, l, cfg.numHeads, cfg.numKvHeads)) w.set(name, dims)
    for (const [name, dims] of shape.layerWeights(cfg, l)) w.set(name, dims)
  }
  for (const [name, dims] of shape.finalWeights(cfg)) w.set(name, dims)
  if (!cfg.tieWordEmbeddings) w.set('lm_head.weight', [V, C])
  if (shape.lmHeadBias) w.set('lm_head.bias', [V])
  return w
}

/** Layer l's attention projections for `heads` query heads over `kvHeads` key/value heads, biases where the config has them. */
export function attentionWeights(cfg: TeacherConfig, l: number, heads: number, kvHeads: number): [string, number[]][] {
  const {hiddenSize: C, headDim: D} = cfg
  const n = attentionNames(cfg, l)
  const w: [string, number[]][] = [[n.q + '.weight', [heads * D, C]], [n.k + '.weight', [kvHeads * D, C]], [n.v + '.weight', [kvHeads * D, C]], [n.o + '.weight', [C, heads * D]]]
  // Llama's attention_bias covers o_proj too; Phi's dense always has a bias.
  if (cfg.attentionBias) w.push([n.q + '.bias', [heads * D]], [n.k + '.bias', [kvHeads * D]], [n.v + '.bias', [kvHeads * D]], [n.o + '.bias', [C]])
  return w
}

export interface AttentionNames {
  q: string
  k: string
  v: string
  o: string
}

export function attentionNames(cfg: Pick<TeacherConfig, 'family'>, layer: number): AttentionNames {
  const p = `model.layers.${layer}.self_attn.`
  return {q: p + 'q_proj', k: p + 'k_proj', v: p + 'v_proj', o: p + BLOCK_SHAPES[cfg.family].outputProjection}
}
