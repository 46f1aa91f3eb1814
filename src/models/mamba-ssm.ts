import {access} from 'node:fs/promises'
import {join} from 'node:path'
import type {Backend} from '../backend/backend.js'
import {FormatError, HybridizeError} from '../errors.js'
import {MAMBA_SSM_FIELDS} from './config-fields.js'
import {readFields} from './config-validate.js'
import {readConfigJson} from './load.js'
import {loadWeights} from './load-weights.js'
import {expectedMamba2Weights, Mamba2Model} from './mamba2.js'
import type {Mamba2ModelConfig} from './mamba2-config.js'
import type {Mamba2Config} from './mixers/mamba2.js'
import type {Mamba3Config} from './mixers/mamba3.js'

/**
 * mamba_ssm's `MambaLMHeadModel` with Mamba-2 or Mamba-3 layers (state-spaces/mamba,
 * mamba_ssm/models/mixer_seq_simple.py): embedding -> per layer h += mixer(RMSNorm(h)) -> norm_f -> lm_head, which
 * is transformers' Mamba2ForCausalLM (mamba2.ts) under other names and settings, its mixer Mamba-3 where
 * ssm_cfg.layer says so (mixers/mamba3.ts already reads mamba_ssm's Mamba3 tensor names and layout):
 *   - config.json is MambaConfig's fields (no model_type) with the Mamba2 module's arguments under ssm_cfg;
 *   - the vocabulary is padded up to pad_vocab_size_multiple, and every norm's epsilon is 1e-5 (MixerModel's
 *     norm_epsilon default, which MambaLMHeadModel never overrides; Mamba2 fixes its gated norm's to 1e-5);
 *   - the gated RMSNorm normalises each of the ngroups groups apart (group_size = d_ssm / ngroups), where
 *     transformers' pure-PyTorch path normalises all of y at once;
 *   - the embedding is `backbone.embedding.weight` (transformers: `embeddings`); the state dict also carries
 *     `lm_head.weight` when it is tied, which is then not read.
 * Only what hybridize runs is accepted: Mamba2 or Mamba3 layers, no MLP, no attention layers, RMSNorm blocks.
 */
type Json = Record<string, unknown>

/** A config.json without model_type is mamba_ssm's when it has MambaConfig's own fields. */
export function isMambaSsmConfig(raw: Json): boolean {
  return raw.model_type === undefined && 'd_model' in raw && 'n_layer' in raw && 'ssm_cfg' in raw
}

export function parseMambaSsmConfig(raw: Json, where = 'config.json'): Mamba2ModelConfig {
  const f = readFields(raw, MAMBA_SSM_FIELDS, {family: 'mamba_ssm', where})
  const num = (key: string) => f[key] as number
  const refuse = (what: string) => {
    throw new HybridizeError(`${where}: ${what} is not supported (mamba_ssm MambaLMHeadModel)`, {code: 'E_CONFIG'})
  }
  const layer = f['ssm_cfg.layer']
  if (layer !== 'Mamba2' && layer !== 'Mamba3') refuse(`ssm_cfg.layer '${String(layer)}' (only 'Mamba2' and 'Mamba3' load)`)
  if (num('d_intermediate') !== 0) refuse(`d_intermediate ${num('d_intermediate')} (a gated MLP after each mixer)`)
  if (Array.isArray(raw.attn_layer_idx) && raw.attn_layer_idx.length > 0) refuse('attn_layer_idx (attention layers)')
  if (f.rms_norm !== true) refuse('rms_norm false (LayerNorm blocks)')
  const multiple = num('pad_vocab_size_multiple')
  const model = {
    architecture: 'MambaLMHeadModel',
    vocabSize: Math.ceil(num('vocab_size') / multiple) * multiple,
    hiddenSize: num('d_model'),
    numLayers: num('n_layer'),
    normEps: 1e-5,
    tieWordEmbeddings: f.tie_embeddings === true,
  }
  return {...model, mixer: layer === 'Mamba3' ? mamba3Mixer(f, where) : mamba2Mixer(raw, f, where)}
}

type Fields = ReturnType<typeof readFields>

/** mamba_ssm/modules/mamba2.py Mamba2's arguments as hybridize's Mamba-2 mixer. */
function mamba2Mixer(raw: Json, f: Fields, where: string): Mamba2Config {
  const num = (key: string) => f[key] as number
  const refuse = (what: string) => {
    throw new HybridizeError(`${where}: ${what} is not supported (mamba_ssm Mamba2)`, {code: 'E_CONFIG'})
  }
  if (f['ssm_cfg.rmsnorm'] !== true) refuse('ssm_cfg.rmsnorm false')
  if (f['ssm_cfg.norm_before_gate'] === true) refuse('ssm_cfg.norm_before_gate true')
  if (f['ssm_cfg.D_has_hdim'] === true) refuse('ssm_cfg.D_has_hdim true')
  const ssm = raw.ssm_cfg as Json
  if (ssm.dt_limit !== undefined && ssm.dt_limit !== null) refuse('ssm_cfg.dt_limit (only the default (0, inf))')
  const hidden = num('d_model')
  const inner = num('ssm_cfg.expand') * hidden
  if (f['ssm_cfg.d_ssm'] !== undefined && num('ssm_cfg.d_ssm') !== inner) refuse(`ssm_cfg.d_ssm ${num('ssm_cfg.d_ssm')} ≠ expand × d_model ${inner} (a gated MLP beside the SSM)`)
  const headDim = num('ssm_cfg.headdim')
  if (inner % headDim !== 0) throw new HybridizeError(`${where}: ssm_cfg.headdim ${headDim} must divide expand × d_model ${inner}`, {code: 'E_CONFIG'})
  const heads = inner / headDim
  const groups = num('ssm_cfg.ngroups')
  if (heads % groups !== 0) throw new HybridizeError(`${where}: ssm_cfg.ngroups ${groups} must divide the ${heads} heads`, {code: 'E_CONFIG'})
  return {
      kind: 'mamba2',
      hiddenSize: hidden,
      heads,
      headDim,
      stateDim: num('ssm_cfg.d_state'),
      xHeads: heads,
      bGroups: groups,
      cGroups: groups,
      normGroups: groups,
      normEps: 1e-5,
      convWidth: num('ssm_cfg.d_conv'),
      convBias: f['ssm_cfg.conv_bias'] === true,
      bias: f['ssm_cfg.bias'] === true,
      chunk: (f['ssm_cfg.chunk_size'] as number | undefined) ?? 256,
  }
}

/**
 * mamba_ssm/modules/mamba3.py Mamba3's arguments as hybridize's Mamba-3 mixer: heads of headdim over expand ×
 * d_model, ngroups B/C heads, mimo_rank (1 unless is_mimo), int(d_state × rope_fraction) rounded down to even and
 * halved rotation angles, A_floor, the per-head norm of is_outproj_norm; B/C norms and the out norm at eps 1e-5.
 */
function mamba3Mixer(f: Fields, where: string): Mamba3Config {
  const num = (key: string) => f[key] as number
  const fail = (what: string): never => {
    throw new HybridizeError(`${where}: ${what}`, {code: 'E_CONFIG'})
  }
  const hidden = num('d_model')
  const inner = num('ssm_cfg.expand') * hidden
  const headDim = num('ssm_cfg.headdim')
  if (inner % headDim !== 0) fail(`ssm_cfg.headdim ${headDim} must divide expand × d_model ${inner}`)
  const fraction = num('ssm_cfg.rope_fraction')
  if (fraction !== 0.5 && fraction !== 1) fail(`ssm_cfg.rope_fraction must be 0.5 or 1 (as Mamba3 asserts), got ${fraction}`)
  const state = num('ssm_cfg.d_state')
  const split = Math.floor(state * fraction)
  const angles = (split - (split % 2)) / 2
  if (angles === 0) fail(`ssm_cfg.d_state ${state} leaves no rotation angle at rope_fraction ${fraction}`)
  const heads = inner / headDim
  const groups = num('ssm_cfg.ngroups')
  if (heads % groups !== 0) fail(`ssm_cfg.ngroups ${groups} must divide the ${heads} heads`)
  return {
    kind: 'mamba3',
    hiddenSize: hidden,
    heads,
    headDim,
    stateDim: state,
    groups,
    mimoRank: f['ssm_cfg.is_mimo'] === true ? num('ssm_cfg.mimo_rank') : 1,
    rotaryAngles: angles,
    aFloor: num('ssm_cfg.A_floor'),
    outNorm: f['ssm_cfg.is_outproj_norm'] === true,
    normEps: 1e-5,
    bias: false,
    chunk: (f['ssm_cfg.chunk_size'] as number | undefined) ?? 64,
  }
}

/** The mamba_ssm name of a Mamba2ForCausalLM tensor (mamba2.ts's names). */
export function mambaSsmName(name: string): string {
  return name === 'backbone.embeddings.weight' ? 'backbone.embedding.weight' : name
}

export async function loadMambaSsm(folder: string, backend: Backend): Promise<Mamba2Model> {
  const config = parseMambaSsmConfig(await readConfigJson(folder), join(folder, 'config.json'))
  // save_pretrained writes torch.save's pickle; hybridize reads safetensors only.
  const pickled = await access(join(folder, 'pytorch_model.bin')).then(() => true, () => false)
  const safetensors = await access(join(folder, 'model.safetensors')).then(() => true, () => false)
  if (pickled && !safetensors) {
    throw new FormatError(`${folder}: only pytorch_model.bin here; convert it to model.safetensors first (safetensors.torch.save_file of its state dict, tied tensors cloned)`)
  }
  const names = [...expectedMamba2Weights(config)]
  const stored = await loadWeights(folder, new Map(names.map(([name, shape]) => [mambaSsmName(name), shape])), config.architecture, backend, 'n_layer')
  return new Mamba2Model(config, new Map(names.map(([name]) => [name, stored.get(mambaSsmName(name))!])), backend)
}
