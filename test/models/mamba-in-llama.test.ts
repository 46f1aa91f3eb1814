import {existsSync} from 'node:fs'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {fromArray} from '../../src/engine/tensor.js'
import {writeCheckpoint} from '../../src/io/safetensors/writer.js'
import {expectedHybridWeights} from '../../src/models/hybrid-weights.js'
import {HybridModel} from '../../src/models/hybrid.js'
import {loadModel} from '../../src/models/load-model.js'
import {mambaInLlamaName, mambaInLlamaToHybridConfig} from '../../src/models/mamba-in-llama.js'
import {cpuBackend} from '../helpers/backends.js'
import {relativeError} from '../helpers/compare.js'
import {referenceLogitsError} from '../helpers/reference-logits.js'
import {fixtureReference} from '../helpers/paths.js'
import {Rng} from '../helpers/random.js'

/**
 * MambaInLlama checkpoints (jxiw/MambaInLlama, mamba2/) load as hybrids keeping all heads or none: a random one
 * written under its names (model.layers.i.mamba.*) beside config.json and mamba_config.json gives back the logits of
 * the same weights, and the fixture made by scripts/make-format-references.py (its own PyTorch of MambaInLlama's
 * equations) is matched.
 */
const LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 256, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 3,
  num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8, rms_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 256,
  tie_word_embeddings: false, hidden_act: 'silu',
}
const MAMBA = {
  d_model: 32, ssm_cfg: {expand: 1, ngroups: 4, d_state: 8, d_conv: 4, chunk_size: 16}, rms_norm_eps: 1e-5, vocab_size: 256, d_inner: 32,
  d_xb: 16, intermediate_size: 48, hidden_act: 'silu', n_layer: 3, attn_layers: [1],
}
const referenceFolder = resolve(fixtureReference, 'mamba-in-llama')
let root: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-mamba-in-llama-'))
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

describe('MambaInLlama checkpoints', () => {
  it('load under their names and configs to the same logits as the hybrid', async () => {
    const cfg = mambaInLlamaToHybridConfig(LLAMA, MAMBA)
    expect(cfg.mixer).toMatchObject({heads: 4, headDim: 8, stateDim: 8, xHeads: 2, bGroups: 2, cGroups: 4, normGroups: 4})
    expect(cfg.layers.map((l) => l.attentionHeads.length)).toEqual([0, 4, 0])
    const rng = new Rng(11)
    const tensors = [...expectedHybridWeights(cfg)].map(([name, shape]) => {
      const base = /norm|\.D$/.test(name) ? 1 : 0
      return {name, shape, data: Float32Array.from(rng.floats(shape.reduce((a, b) => a * b, 1), 0.3), (v) => base + v)}
    })
    expect(tensors.some((t) => t.name === 'model.layers.0.ssm.in_proj.weight')).toBe(true)
    await writeCheckpoint(root, tensors.map((t) => ({name: mambaInLlamaName(t.name), dtype: 'F32' as const, shape: t.shape, data: t.data})))
    await writeFile(join(root, 'config.json'), JSON.stringify(LLAMA))
    await writeFile(join(root, 'mamba_config.json'), JSON.stringify(MAMBA))

    const cpu = cpuBackend()
    const loaded = await loadModel(root, cpu)
    expect(loaded).toBeInstanceOf(HybridModel)
    const direct = new HybridModel(cfg, new Map(tensors.map((t) => [t.name, fromArray(cpu, t.data, t.shape)])), cpu)
    const ids = fromArray(cpu, Int32Array.from({length: 40}, (_, i) => (i * 37) % 256), [2, 20])
    const got = await loaded.forward(ids).logits.toFloat32()
    expect(got.length).toBe(2 * 20 * 256)
    expect(relativeError(got, await direct.forward(ids).logits.toFloat32())).toBeLessThanOrEqual(1e-6)
  })

  it('refuses in one line what does not fit', () => {
    const ssm = MAMBA.ssm_cfg
    expect(() => mambaInLlamaToHybridConfig(LLAMA, {...MAMBA, d_model: 64})).toThrow(/d_model 64 differs from config.json's hidden_size 32/)
    expect(() => mambaInLlamaToHybridConfig(LLAMA, {...MAMBA, rms_norm_eps: 1e-6})).toThrow(/rms_norm_eps/)
    expect(() => mambaInLlamaToHybridConfig(LLAMA, {...MAMBA, ssm_cfg: {...ssm, repeat_kv_before_conv: true}})).toThrow(/repeat_kv_before_conv true is not supported/)
    expect(() => mambaInLlamaToHybridConfig(LLAMA, {...MAMBA, d_xb: 12})).toThrow(/d_xb 12/)
    expect(() => mambaInLlamaToHybridConfig(LLAMA, {...MAMBA, ssm_cfg: {...ssm, ngroups: 2}})).toThrow(/d_inner 32 must be ssm_cfg.ngroups 2/)
    expect(() => mambaInLlamaToHybridConfig(LLAMA, {...MAMBA, attn_layers: [3]})).toThrow(/attn_layers must list layer indices below 3/)
    expect(() => mambaInLlamaToHybridConfig({...LLAMA, mlp_bias: true}, MAMBA)).toThrow(/mlp_bias/)
  })

  it.skipIf(!existsSync(referenceFolder))('match the logits of MambaInLlama\'s equations (fixtures/reference/mamba-in-llama; skipped until scripts/make-format-references.py has made it)', async () => {
    const err = await referenceLogitsError(referenceFolder)
    expect(err, `logits relative error ${err.toExponential(2)}`).toBeLessThanOrEqual(1e-4)
  })
})
