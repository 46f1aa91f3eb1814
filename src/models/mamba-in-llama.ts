import {access} from 'node:fs/promises'
import {join} from 'node:path'
import type {Backend} from '../backend/backend.js'
import {HybridizeError} from '../errors.js'
import {parseTeacherConfig} from './config.js'
import {MAMBA_IN_LLAMA_FIELDS} from './config-fields.js'
import {readFields} from './config-validate.js'
import type {HybridConfig} from './hybrid-config.js'
import {expectedHybridWeights} from './hybrid-weights.js'
import {HybridModel} from './hybrid.js'
import {readConfigJson} from './load.js'
import {loadWeights} from './load-weights.js'

/**
 * MambaInLlama checkpoints (Wang et al. 2024, arXiv 2408.15237; jxiw/MambaInLlama, mamba2/): the teacher's
 * transformers folder (config.json, a Llama) whose layers not in mamba_config.json's attn_layers are
 * MambaDecoderLayer (mamba2/hybrid_model.py): input_layernorm -> Mamba2 -> residual, post_attention_layernorm ->
 * the Llama MLP -> residual, which is a hybrid layer keeping no heads; attention layers keep all of them.
 * Its Mamba2 (mamba2/hybrid_mamba_layer.py) has ngroups heads of d_state, x and B of d_xb (d_xb / d_state heads,
 * repeated like grouped-query K and V; repeat_kv_before_conv false), C of d_inner, and the gated norm per head
 * (group_size d_inner / ngroups): hybridize's Mamba-2 mixer with xHeads = bGroups = d_xb / d_state.
 * Tensor names: model.layers.i.mamba.* is the hybrid's model.layers.i.ssm.*; the rest are the Llama's.
 */
type Json = Record<string, unknown>

export const MAMBA_IN_LLAMA_CONFIG = 'mamba_config.json'

export async function isMambaInLlamaFolder(folder: string, raw: Json): Promise<boolean> {
  return raw.model_type === 'llama' && (await access(join(folder, MAMBA_IN_LLAMA_CONFIG)).then(() => true, () => false))
}

export function mambaInLlamaToHybridConfig(teacherJson: Json, mambaJson: Json, folder = '.'): HybridConfig {
  const where = join(folder, MAMBA_IN_LLAMA_CONFIG)
  const teacher = parseTeacherConfig(teacherJson, join(folder, 'config.json'))
  const f = readFields(mambaJson, MAMBA_IN_LLAMA_FIELDS, {family: 'mamba-in-llama', where})
  const num = (key: string) => f[key] as number
  const fail = (what: string): never => {
    throw new HybridizeError(`${where}: ${what}`, {code: 'E_CONFIG'})
  }
  const agree = (key: string, value: number, teacherKey: string, teacherValue: number) => {
    if (value !== teacherValue) fail(`${key} ${value} differs from config.json's ${teacherKey} ${teacherValue}`)
  }
  agree('d_model', num('d_model'), 'hidden_size', teacher.hiddenSize)
  agree('n_layer', num('n_layer'), 'num_hidden_layers', teacher.numLayers)
  agree('intermediate_size', num('intermediate_size'), 'intermediate_size', teacher.intermediateSize)
  // One eps serves every norm in hybridize's decoder; MambaDecoderLayer's come from here, the attention layers' from config.json.
  agree('rms_norm_eps', num('rms_norm_eps'), 'rms_norm_eps', teacher.normEps)
  if (f.vocab_size !== undefined) agree('vocab_size', num('vocab_size'), 'vocab_size', teacher.vocabSize)
  if (teacher.mlpBias) fail('config.json has mlp_bias, but MambaDecoderLayer\'s MLP has none')
  for (const key of ['ssm_cfg.norm_before_gate', 'ssm_cfg.D_has_hdim', 'ssm_cfg.repeat_kv_before_conv']) {
    if (f[key] === true) fail(`${key} true is not supported`)
  }
  if (f['ssm_cfg.rmsnorm'] !== true) fail('ssm_cfg.rmsnorm false is not supported')
  const ssm = (mambaJson.ssm_cfg ?? {}) as Json
  if (ssm.dt_limit !== undefined && ssm.dt_limit !== null) fail('ssm_cfg.dt_limit is not supported (only the default (0, inf))')
  const inner = (f.d_inner as number | undefined) ?? num('ssm_cfg.expand') * num('d_model')
  const state = num('ssm_cfg.d_state')
  const heads = num('ssm_cfg.ngroups')
  const xb = num('d_xb')
  if (f['ssm_cfg.d_ssm'] !== undefined && num('ssm_cfg.d_ssm') !== inner) fail(`ssm_cfg.d_ssm ${num('ssm_cfg.d_ssm')} ≠ d_inner ${inner} is not supported (a gated MLP beside the SSM)`)
  // MambaInLlama's Mamba2 asserts d_inner == ngroups × d_state; x and B are whole heads of d_state repeated up to ngroups.
  if (heads * state !== inner) fail(`d_inner ${inner} must be ssm_cfg.ngroups ${heads} × ssm_cfg.d_state ${state}`)
  if (xb % state !== 0 || heads % (xb / state) !== 0) fail(`d_xb ${xb} must be a whole number of d_state ${state} heads dividing ssm_cfg.ngroups ${heads}`)
  const attn = mambaJson.attn_layers ?? []
  if (!Array.isArray(attn) || !attn.every((l) => Number.isInteger(l) && l >= 0 && l < teacher.numLayers)) fail(`attn_layers must list layer indices below ${teacher.numLayers}`)
  const attention = new Set(attn as number[])
  const allHeads = Array.from({length: teacher.numHeads}, (_, h) => h)
  return {
    teacher,
    teacherJson,
    mixer: {
      kind: 'mamba2',
      hiddenSize: teacher.hiddenSize,
      heads,
      headDim: state,
      stateDim: state,
      xHeads: xb / state,
      bGroups: xb / state,
      cGroups: heads,
      normGroups: heads,
      normEps: 1e-5,
      convWidth: num('ssm_cfg.d_conv'),
      convBias: f['ssm_cfg.conv_bias'] === true,
      bias: f['ssm_cfg.bias'] === true,
      chunk: num('ssm_cfg.chunk_size'),
    },
    adapterEps: 1e-5,
    layers: Array.from({length: teacher.numLayers}, (_, l) => ({attentionHeads: attention.has(l) ? allHeads : []})),
  }
}

/** The MambaInLlama name of a hybrid tensor. */
export function mambaInLlamaName(name: string): string {
  return name.replace(/^model\.layers\.(\d+)\.ssm\./, 'model.layers.$1.mamba.')
}

export async function loadMambaInLlama(folder: string, backend: Backend): Promise<HybridModel> {
  const config = mambaInLlamaToHybridConfig(await readConfigJson(folder), await readConfigJson(folder, MAMBA_IN_LLAMA_CONFIG), folder)
  const names = [...expectedHybridWeights(config)]
  const stored = await loadWeights(folder, new Map(names.map(([name, shape]) => [mambaInLlamaName(name), shape])), 'MambaInLlama', backend)
  return new HybridModel(config, new Map(names.map(([name]) => [name, stored.get(mambaInLlamaName(name))!])), backend)
}
