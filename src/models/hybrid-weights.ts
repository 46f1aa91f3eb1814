import {layerKind, type HybridConfig} from './hybrid-config.js'
import {mixerWeightShapes} from './mixers/create.js'
import {attentionNames, expectedTeacherWeights} from './teacher-weights.js'

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
  const D = t.headDim
  const C = t.hiddenSize
  const w = new Map<string, number[]>()
  for (const [name, shape] of expectedTeacherWeights(t)) if (!name.includes('.self_attn.')) w.set(name, shape)
  for (let l = 0; l < t.numLayers; l++) {
    const p = `model.layers.${l}.`
    const kind = layerKind(cfg, l)
    if (kind !== 'ssm') {
      const kept = cfg.layers[l].attentionHeads.length
      const kv = kind === 'attention' ? t.numKvHeads : kept
      const n = attentionNames(t, l)
      w.set(n.q + '.weight', [kept * D, C])
      w.set(n.k + '.weight', [kv * D, C])
      w.set(n.v + '.weight', [kv * D, C])
      w.set(n.o + '.weight', [C, kept * D])
      if (t.attentionBias) {
        w.set(n.q + '.bias', [kept * D])
        w.set(n.k + '.bias', [kv * D])
        w.set(n.v + '.bias', [kv * D])
        w.set(n.o + '.bias', [C])
      }
    }
    if (kind !== 'attention') for (const [name, shape] of mixerWeightShapes(cfg.mixer)) w.set(`${p}ssm.${name}`, shape)
    if (kind === 'hybrid') {
      w.set(p + 'adapter.out_proj.weight', [C, C])
      w.set(p + 'adapter.out_proj.bias', [C])
    }
  }
  return w
}
