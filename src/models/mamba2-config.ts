import {HybridizeError} from '../errors.js'
import {MAMBA2_FIELDS} from './config-fields.js'
import {readFields} from './config-validate.js'
import type {Mamba2Config as Mamba2MixerConfig} from './mixers/mamba2.js'
import type {Mamba3Config} from './mixers/mamba3.js'

/**
 * transformers' Mamba2Config (`model_type: "mamba2"`), as Mamba2ForCausalLM reads it. Only the
 * plain layout is supported: no gated-MLP slice in in_proj, SiLU, time_step_limit (0, ∞).
 */
export interface Mamba2ModelConfig<M extends Mamba2MixerConfig | Mamba3Config = Mamba2MixerConfig | Mamba3Config> {
  architecture: string
  vocabSize: number
  hiddenSize: number
  numLayers: number
  normEps: number
  tieWordEmbeddings: boolean
  /** Mamba-2 for transformers' Mamba2ForCausalLM; mamba_ssm's MambaLMHeadModel may have Mamba-3 layers. */
  mixer: M
}

type Json = Record<string, unknown>

/** transformers writes non-finite floats as {"__float__": "Infinity"}. */
function jsonFloat(v: unknown): number | undefined {
  if (typeof v === 'number') return v
  if (v && typeof v === 'object' && typeof (v as Json).__float__ === 'string') return Number((v as Json).__float__)
  return undefined
}

export function parseMamba2Config(raw: Json, where = 'config.json'): Mamba2ModelConfig<Mamba2MixerConfig> {
  const f = readFields(raw, MAMBA2_FIELDS, {family: 'mamba2', where})
  const num = (key: string) => f[key] as number
  const hiddenSize = num('hidden_size')
  const heads = num('num_heads')
  const headDim = num('head_dim')
  const inner = num('expand') * hiddenSize
  if (heads * headDim !== inner) {
    throw new HybridizeError(`${where}: ${heads} heads of ${headDim} do not make the intermediate size ${inner} (expand × hidden_size)`, {code: 'E_CONFIG'})
  }
  const groups = num('n_groups')
  if (heads % groups !== 0) throw new HybridizeError(`${where}: n_groups ${groups} must divide num_heads ${heads}`, {code: 'E_CONFIG'})
  const limit = Array.isArray(raw.time_step_limit) ? raw.time_step_limit.map(jsonFloat) : [0, Infinity]
  if (limit.length !== 2 || limit[0] !== 0 || limit[1] !== Infinity) {
    throw new HybridizeError(`${where}: time_step_limit [${limit}] is not supported (only the default [0, Infinity])`, {code: 'E_CONFIG'})
  }
  const architectures = Array.isArray(raw.architectures) ? raw.architectures : []
  return {
    architecture: typeof architectures[0] === 'string' ? architectures[0] : 'Mamba2ForCausalLM',
    vocabSize: num('vocab_size'),
    hiddenSize,
    numLayers: num('num_hidden_layers'),
    normEps: num('layer_norm_epsilon'),
    tieWordEmbeddings: f.tie_word_embeddings === true,
    mixer: {
      kind: 'mamba2',
      hiddenSize,
      heads,
      headDim,
      stateDim: num('state_size'),
      xHeads: heads,
      bGroups: groups,
      cGroups: groups,
      // transformers' pure-PyTorch MambaRMSNormGated normalises all of y at once, whatever n_groups is.
      normGroups: 1,
      normEps: num('layer_norm_epsilon'),
      convWidth: num('conv_kernel'),
      convBias: f.use_conv_bias === true,
      bias: f.use_bias === true,
      chunk: num('chunk_size'),
    },
  }
}
