import type {TeacherConfig} from './config.js'

/**
 * The tensors a teacher checkpoint must hold, with their shapes, named as transformers names them.
 * Letters: V vocab, C hidden, F MLP width, Hq/Hkv heads, D head dim.
 */
export function expectedTeacherWeights(cfg: TeacherConfig): Map<string, number[]> {
  const {vocabSize: V, hiddenSize: C, intermediateSize: F, numHeads: Hq, numKvHeads: Hkv, headDim: D} = cfg
  const w = new Map<string, number[]>()
  w.set('model.embed_tokens.weight', [V, C])
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `model.layers.${l}.`
    const attn = attentionNames(cfg, l)
    w.set(attn.q + '.weight', [Hq * D, C])
    w.set(attn.k + '.weight', [Hkv * D, C])
    w.set(attn.v + '.weight', [Hkv * D, C])
    w.set(attn.o + '.weight', [C, Hq * D])
    if (cfg.attentionBias) {
      w.set(attn.q + '.bias', [Hq * D])
      w.set(attn.k + '.bias', [Hkv * D])
      w.set(attn.v + '.bias', [Hkv * D])
      // Llama's attention_bias covers o_proj too; Phi's dense always has a bias.
      w.set(attn.o + '.bias', [C])
    }
    if (cfg.family === 'llama') {
      w.set(p + 'input_layernorm.weight', [C])
      w.set(p + 'post_attention_layernorm.weight', [C])
      for (const [name, shape] of [['gate_proj', [F, C]], ['up_proj', [F, C]], ['down_proj', [C, F]]] as const) {
        w.set(`${p}mlp.${name}.weight`, [...shape])
        if (cfg.mlpBias) w.set(`${p}mlp.${name}.bias`, [shape[0]])
      }
    } else {
      w.set(p + 'input_layernorm.weight', [C])
      w.set(p + 'input_layernorm.bias', [C])
      w.set(p + 'mlp.fc1.weight', [F, C])
      w.set(p + 'mlp.fc1.bias', [F])
      w.set(p + 'mlp.fc2.weight', [C, F])
      w.set(p + 'mlp.fc2.bias', [C])
    }
  }
  if (cfg.family === 'llama') {
    w.set('model.norm.weight', [C])
  } else {
    w.set('model.final_layernorm.weight', [C])
    w.set('model.final_layernorm.bias', [C])
  }
  if (!cfg.tieWordEmbeddings) w.set('lm_head.weight', [V, C])
  if (cfg.family === 'phi') w.set('lm_head.bias', [V])
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
  return {q: p + 'q_proj', k: p + 'k_proj', v: p + 'v_proj', o: p + (cfg.family === 'phi' ? 'dense' : 'o_proj')}
}
