import {layerKind, type HybridConfig} from './hybrid-config.js'
import {mixerWeightShapes} from './mixers/create.js'
import {attentionWeights, expectedTeacherWeights} from './teacher-weights.js'

/**
 * The tensors of a hybrid checkpoint. Everything outside the attention is named and shaped as in
 * the teacher (embeddings, norms, MLPs, final norm, LM head). Per layer l, under `model.layers.l.`:
 *   self_attn.*              attention layers: the teacher's q/k/v/o (o is `dense` for Phi);
 *                            hybrid layers: the same names with k kept heads, K and V one per head:
 *                            q, k, v [k·D, C], o [C, k·D] (plus biases where the teacher has them)
 *   ssm.*                    the mixer's weights (mixers/*.ts), hybrid and SSM layers
 *   adapter.out_proj.{weight [C, C], bias [C]}   hybrid layers
 */
export function expectedHybridWeights(cfg: HybridConfig): Map<string, number[]> {
  const t = cfg.teacher
  const C = t.hiddenSize
  const w = new Map<string, number[]>()
  for (const [name, shape] of expectedTeacherWeights(t)) if (!name.includes('.self_attn.')) w.set(name, shape)
  for (let l = 0; l < t.numLayers; l++) {
    const p = `model.layers.${l}.`
    const kind = layerKind(cfg, l)
    if (kind !== 'ssm') {
      const kept = cfg.layers[l].attentionHeads.length
      for (const [name, shape] of attentionWeights(t, l, kept, kind === 'attention' ? t.numKvHeads : kept)) w.set(name, shape)
    }
    if (kind !== 'attention') for (const [name, shape] of mixerWeightShapes(cfg.mixer)) w.set(`${p}ssm.${name}`, shape)
    if (kind === 'hybrid') {
      w.set(p + 'adapter.out_proj.weight', [C, C])
      w.set(p + 'adapter.out_proj.bias', [C])
    }
  }
  return w
}
