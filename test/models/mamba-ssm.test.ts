import {existsSync} from 'node:fs'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {fromArray} from '../../src/engine/tensor.js'
import {writeCheckpoint} from '../../src/io/safetensors/writer.js'
import {loadModel} from '../../src/models/load-model.js'
import {mambaSsmName, parseMambaSsmConfig} from '../../src/models/mamba-ssm.js'
import {expectedMamba2Weights, Mamba2Model} from '../../src/models/mamba2.js'
import type {Mamba2Config} from '../../src/models/mixers/mamba2.js'
import {cpuBackend} from '../helpers/backends.js'
import {relativeError} from '../helpers/compare.js'
import {referenceLogitsError} from '../helpers/reference-logits.js'
import {fixtureReference} from '../helpers/paths.js'
import {Rng} from '../helpers/random.js'

/**
 * mamba_ssm MambaLMHeadModel checkpoints with Mamba-2 or Mamba-3 layers (state-spaces/mamba) load as Mamba2Model: a random
 * model written under mamba_ssm's names and config.json gives back the logits of the same weights, and the
 * fixture made by scripts/make-format-references.py (its own PyTorch of mamba_ssm's equations) is matched.
 */
const CONFIG = {
  d_model: 32, d_intermediate: 0, n_layer: 2, vocab_size: 250, attn_layer_idx: [], attn_cfg: {}, rms_norm: true,
  residual_in_fp32: true, fused_add_norm: true, pad_vocab_size_multiple: 16, tie_embeddings: true,
  ssm_cfg: {layer: 'Mamba2', d_state: 16, d_conv: 4, expand: 2, headdim: 8, ngroups: 2, chunk_size: 16},
}
let root: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-mamba-ssm-'))
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

/** A Mamba2Model's weights in mamba_ssm's layout: config.json and model.safetensors under its names (lm_head too when tied, as its state dict has it). */
async function writeMambaSsm(folder: string, config: object, weights: Map<string, Float32Array>, shapes: Map<string, number[]>, tied: boolean): Promise<void> {
  const tensors = [...weights].map(([name, data]) => ({name: mambaSsmName(name), dtype: 'F32' as const, shape: shapes.get(name)!, data}))
  if (tied) tensors.push({name: 'lm_head.weight', dtype: 'F32' as const, shape: shapes.get('backbone.embeddings.weight')!, data: weights.get('backbone.embeddings.weight')!})
  await writeCheckpoint(folder, tensors)
  await writeFile(join(folder, 'config.json'), JSON.stringify(config))
}

describe('mamba_ssm MambaLMHeadModel checkpoints', () => {
  it('with Mamba2 layers load under mamba_ssm\'s names and config to the same logits', async () => {
    const cfg = parseMambaSsmConfig(CONFIG)
    expect(cfg.vocabSize).toBe(256)
    expect(cfg.mixer).toMatchObject({heads: 8, headDim: 8, bGroups: 2, normGroups: 2, normEps: 1e-5})
    const rng = new Rng(7)
    const shapes = expectedMamba2Weights(cfg)
    const weights = new Map([...shapes].map(([name, shape]) => {
      const base = /norm|\.D$/.test(name) ? 1 : 0
      return [name, Float32Array.from(rng.floats(shape.reduce((a, b) => a * b, 1), 0.3), (v) => base + v)]
    }))
    await writeMambaSsm(root, CONFIG, weights, shapes, true)

    const cpu = cpuBackend()
    const loaded = await loadModel(root, cpu)
    expect(loaded).toBeInstanceOf(Mamba2Model)
    const direct = new Mamba2Model(cfg, new Map([...weights].map(([name, data]) => [name, fromArray(cpu, data, shapes.get(name)!)])), cpu)
    // The gated norm per group is mamba_ssm's; over all of y (transformers') gives other logits.
    const oneNormGroup = new Mamba2Model({...cfg, mixer: {...(cfg.mixer as Mamba2Config), normGroups: 1}}, direct.weights, cpu)
    const ids = fromArray(cpu, Int32Array.from({length: 40}, (_, i) => (i * 37) % 250), [2, 20])
    const got = await loaded.forward(ids).logits.toFloat32()
    expect(got.length).toBe(2 * 20 * 256)
    expect(relativeError(got, await direct.forward(ids).logits.toFloat32())).toBeLessThanOrEqual(1e-6)
    expect(relativeError(got, await oneNormGroup.forward(ids).logits.toFloat32())).toBeGreaterThan(1e-3)
  })

  it('with Mamba3 layers (MIMO rank 2, per-head out norm) load to the same logits', async () => {
    const config = {...CONFIG, ssm_cfg: {layer: 'Mamba3', d_state: 16, expand: 2, headdim: 8, ngroups: 2, rope_fraction: 0.5, is_mimo: true, mimo_rank: 2, is_outproj_norm: true, chunk_size: 8}}
    const cfg = parseMambaSsmConfig(config)
    expect(cfg.mixer).toMatchObject({kind: 'mamba3', heads: 8, headDim: 8, stateDim: 16, groups: 2, mimoRank: 2, rotaryAngles: 4, aFloor: 1e-4, outNorm: true})
    const rng = new Rng(8)
    const shapes = expectedMamba2Weights(cfg)
    expect(shapes.get('backbone.layers.1.mixer.mimo_x')).toEqual([8, 2, 8])
    const weights = new Map([...shapes].map(([name, shape]) => {
      const base = /norm|\.D$|_bias$/.test(name) ? 1 : 0
      return [name, Float32Array.from(rng.floats(shape.reduce((a, b) => a * b, 1), 0.3), (v) => base + v)]
    }))
    const folder = await mkdtemp(join(root, 'mamba3-'))
    await writeMambaSsm(folder, config, weights, shapes, true)
    const cpu = cpuBackend()
    const loaded = await loadModel(folder, cpu)
    const direct = new Mamba2Model(cfg, new Map([...weights].map(([name, data]) => [name, fromArray(cpu, data, shapes.get(name)!)])), cpu)
    const ids = fromArray(cpu, Int32Array.from({length: 40}, (_, i) => (i * 37) % 250), [2, 20])
    const got = await loaded.forward(ids).logits.toFloat32()
    expect(relativeError(got, await direct.forward(ids).logits.toFloat32())).toBeLessThanOrEqual(1e-6)
  })

  it('refuses in one line what hybridize does not run', () => {
    expect(() => parseMambaSsmConfig({...CONFIG, ssm_cfg: {layer: 'Mamba3', rope_fraction: 0.25}})).toThrow(/rope_fraction must be 0.5 or 1/)
    const ssm = CONFIG.ssm_cfg
    expect(() => parseMambaSsmConfig({...CONFIG, ssm_cfg: {...ssm, layer: 'Mamba1'}})).toThrow(/ssm_cfg\.layer 'Mamba1' \(only 'Mamba2' and 'Mamba3' load\)/)
    expect(() => parseMambaSsmConfig({...CONFIG, ssm_cfg: {d_state: 16}})).toThrow(/ssm_cfg\.layer 'Mamba1' \(only 'Mamba2' and 'Mamba3' load\)/)
    expect(() => parseMambaSsmConfig({...CONFIG, d_intermediate: 64})).toThrow(/d_intermediate 64/)
    expect(() => parseMambaSsmConfig({...CONFIG, attn_layer_idx: [1]})).toThrow(/attn_layer_idx/)
    expect(() => parseMambaSsmConfig({...CONFIG, rms_norm: false})).toThrow(/rms_norm false/)
    expect(() => parseMambaSsmConfig({...CONFIG, ssm_cfg: {...ssm, norm_before_gate: true}})).toThrow(/norm_before_gate/)
    expect(() => parseMambaSsmConfig({...CONFIG, ssm_cfg: {...ssm, D_has_hdim: true}})).toThrow(/D_has_hdim/)
    expect(() => parseMambaSsmConfig({...CONFIG, ssm_cfg: {...ssm, d_ssm: 32}})).toThrow(/d_ssm 32/)
    expect(() => parseMambaSsmConfig({...CONFIG, ssm_cfg: {...ssm, ngroups: 3}})).toThrow(/ngroups 3 must divide/)
  })

  it('refuses a folder holding only pytorch_model.bin, saying how to convert it', async () => {
    const folder = await mkdtemp(join(root, 'pickle-'))
    await writeFile(join(folder, 'config.json'), JSON.stringify(CONFIG))
    await writeFile(join(folder, 'pytorch_model.bin'), 'PK')
    await expect(loadModel(folder, cpuBackend())).rejects.toThrow(/only pytorch_model\.bin here; convert it to model\.safetensors/)
  })

  for (const name of ['mamba-ssm-mamba2', 'mamba-ssm-mamba3']) {
    const referenceFolder = resolve(fixtureReference, name)
    it.skipIf(!existsSync(referenceFolder))(`match the logits of mamba_ssm's equations (fixtures/reference/${name}; skipped until scripts/make-format-references.py has made it)`, async () => {
      const err = await referenceLogitsError(referenceFolder)
      expect(err, `logits relative error ${err.toExponential(2)}`).toBeLessThanOrEqual(1e-4)
    })
  }
})
