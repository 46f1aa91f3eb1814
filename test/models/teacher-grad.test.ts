import {describe, it} from 'vitest'
import {parseTeacherConfig} from '../../src/models/config.js'
import {TeacherModel} from '../../src/models/teacher.js'
import {initialWeights} from '../../src/fixtures/init-weights.js'
import {floats, gradCheck, ints, type GradInput} from '../autograd/gradcheck.js'
import {Rng} from '../helpers/random.js'

/**
 * The whole teacher's gradients, every weight, against finite differences (float64). Training the
 * fixture teachers and stage 3 of distillation both rely on them; an op-level check cannot catch
 * a model that wires correct ops together wrongly (a transposed GQA group, RoPE applied to the
 * wrong half).
 */
const common = {vocab_size: 11, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: 16}
const configs = {
  'llama (GQA 2q/1kv, full rotary, tied)': {
    ...common, model_type: 'llama', intermediate_size: 12, num_key_value_heads: 1, head_dim: 4,
    rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true, hidden_act: 'silu',
  },
  'phi (parallel block, partial rotary, biases)': {
    ...common, model_type: 'phi', intermediate_size: 12, num_key_value_heads: 2, partial_rotary_factor: 0.5,
    layer_norm_eps: 1e-5, rope_theta: 10000, hidden_act: 'gelu_new', tie_word_embeddings: false,
  },
}

describe('a teacher\'s gradients match finite differences (CPU, float64)', () => {
  it.each(Object.entries(configs))('%s, every weight', async (_label, raw) => {
    const cfg = parseTeacherConfig(raw)
    const rng = new Rng(7)
    const weights = [...initialWeights(cfg, 3, 0.5)]
    // Norm weights and biases start at 1 and 0; perturb them so their gradients are generic.
    const inputs: GradInput[] = weights.map(([name, {shape}]) => floats(rng, name, shape, 0.5, /norm.*weight$/.test(name) ? 1 : 0))
    const [b, t] = [2, 6]
    inputs.push(ints('ids', [b, t], Array.from({length: b * t}, () => rng.int(0, cfg.vocabSize - 1))))
    await gradCheck(rng, inputs, (ts) => {
      const named = new Map(weights.map(([name], i) => [name, ts[i]]))
      const model = new TeacherModel(cfg, named, ts[0].backend)
      return model.forward(ts[ts.length - 1]).logits
    }, {samples: 12})
  })
})
