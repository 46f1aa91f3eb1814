import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {fromArray} from '../../src/engine/tensor.js'
import {writeCheckpoint} from '../../src/io/safetensors/writer.js'
import {expectedHybridWeights} from '../../src/models/hybrid-weights.js'
import {HybridModel} from '../../src/models/hybrid.js'
import {llambaName, llambaToHybridConfig} from '../../src/models/llamba.js'
import {loadModel} from '../../src/models/load-model.js'
import {summarizeModel} from '../../src/models/summary.js'
import {cpuBackend} from '../helpers/backends.js'
import {Rng} from '../helpers/random.js'

/**
 * Llamba checkpoints load as hybrids keeping no heads: a random Llamba written under its own tensor
 * names (cartesia-ai/edge) gives the logits of the same weights run as a hybrid. The mixer itself
 * is the discrete Mamba-2 of test/mixers.
 */
const LLAMBA = {
  model_type: 'llamba', vocab_size: 250, pad_vocab_size_multiple: 8, tie_embeddings: true, lm_head_bias: false, d_model: 16, n_layer: 2,
  norm_epsilon: 1e-5, mlp_cfg: {intermediate_size: 24, bias: false, act_fn: 'silu'},
  ssm_cfg: {d_state: 4, n_v_heads: 4, n_qk_heads: 2, expand: 1, chunk_size: 8, activation: 'identity', bias: false},
}
let root: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-llamba-'))
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

describe('Llamba checkpoints', () => {
  it('load under their own names and run as the same hybrid', async () => {
    const cfg = llambaToHybridConfig(LLAMBA)
    expect(cfg.teacher.vocabSize).toBe(256)
    const rng = new Rng(41)
    const tensors = [...expectedHybridWeights(cfg)].map(([name, shape]) => {
      const n = shape.reduce((a, b) => a * b, 1)
      const base = /norm|\.D$/.test(name) ? 1 : 0
      return {name, shape, data: Float32Array.from(rng.floats(n, 0.3), (v) => base + v)}
    })
    expect(tensors.some((t) => t.name.endsWith('ssm.z_bias'))).toBe(true)
    await writeCheckpoint(root, tensors.map((t) => ({name: llambaName(t.name), dtype: 'F32' as const, shape: t.shape, data: t.data})))
    await writeFile(join(root, 'config.json'), JSON.stringify(LLAMBA))

    const cpu = cpuBackend()
    const loaded = await loadModel(root, cpu)
    expect(loaded).toBeInstanceOf(HybridModel)
    const direct = new HybridModel(cfg, new Map(tensors.map((t) => [t.name, fromArray(cpu, t.data, t.shape)])), cpu)
    const ids = fromArray(cpu, Int32Array.from({length: 24}, (_, i) => (i * 37) % 250), [2, 12])
    const got = await loaded.forward(ids).logits.toFloat32()
    expect(Array.from(got)).toEqual(Array.from(await direct.forward(ids).logits.toFloat32()))
    expect(got.length).toBe(2 * 12 * 256)

    const summary = await summarizeModel(root)
    expect(summary).toMatchObject({kind: 'hybrid', architecture: 'LlambaLMHeadModel', attentionHeads: {kept: 0, total: 8}, layerKinds: {ssm: 2, hybrid: 0, attention: 0}})
  })

  it('refuses settings it does not implement', () => {
    expect(() => llambaToHybridConfig({...LLAMBA, ssm_cfg: {...LLAMBA.ssm_cfg, activation: 'silu'}})).toThrow(/activation/)
    expect(() => llambaToHybridConfig({...LLAMBA, lm_head_bias: true})).toThrow(/lm_head_bias/)
  })
})
