import {HybridizeError} from '../errors.js'
import type {Mamba2Config as Mamba2MixerConfig} from './mixers/mamba2.js'

/**
 * transformers' Mamba2Config (`model_type: "mamba2"`), as Mamba2ForCausalLM reads it. Only the
 * plain layout is supported: no gated-MLP slice in in_proj, SiLU, time_step_limit (0, ∞).
 */
export interface Mamba2ModelConfig {
  architecture: string
  vocabSize: number
  hiddenSize: number
  numLayers: number
  normEps: number
  tieWordEmbeddings: boolean
  mixer: Mamba2MixerConfig
}

type Json = Record<string, unknown>

/** transformers writes non-finite floats as {"__float__": "Infinity"}. */
function jsonFloat(v: unknown): number | undefined {
  if (typeof v === 'number') return v
  if (v && typeof v === 'object' && typeof (v as Json).__float__ === 'string') return Number((v as Json).__float__)
  return undefined
}

export function parseMamba2Config(raw: Json, where = 'config.json'): Mamba2ModelConfig {
  const num = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new HybridizeError(`${where}: '${key}' must be a number`, {code: 'E_CONFIG'})
    return v
  }
  const hiddenSize = num('hidden_size')
  const heads = num('num_heads')
  const headDim = num('head_dim')
  const inner = num('expand', 2) * hiddenSize
  if (heads * headDim !== inner) {
    throw new HybridizeError(`${where}: ${heads} heads of ${headDim} do not make the intermediate size ${inner} (expand × hidden_size)`, {code: 'E_CONFIG'})
  }
  const act = raw.hidden_act ?? 'silu'
  if (act !== 'silu' && act !== 'swish') throw new HybridizeError(`${where}: Mamba2 with hidden_act '${String(act)}' is not supported (silu)`, {code: 'E_CONFIG'})
  const limit = Array.isArray(raw.time_step_limit) ? raw.time_step_limit.map(jsonFloat) : [0, Infinity]
  if (limit[0] !== 0 || limit[1] !== Infinity) {
    throw new HybridizeError(`${where}: time_step_limit [${limit}] is not supported (only the default [0, Infinity])`, {code: 'E_CONFIG'})
  }
  const groups = num('n_groups', 1)
  const architectures = Array.isArray(raw.architectures) ? raw.architectures : []
  return {
    architecture: typeof architectures[0] === 'string' ? architectures[0] : 'Mamba2ForCausalLM',
    vocabSize: num('vocab_size'),
    hiddenSize,
    numLayers: num('num_hidden_layers'),
    normEps: num('layer_norm_epsilon', 1e-5),
    tieWordEmbeddings: raw.tie_word_embeddings === true,
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
      normEps: num('layer_norm_epsilon', 1e-5),
      convWidth: num('conv_kernel', 4),
      convBias: raw.use_conv_bias !== false,
      bias: raw.use_bias === true,
      chunk: num('chunk_size', 256),
    },
  }
}
