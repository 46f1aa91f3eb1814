import {HybridizeError} from '../errors.js'

/**
 * One normalised description of a teacher, read from a Hugging Face `config.json`.
 * Both layouts that exist on the hub load: transformers 4 (`rope_theta`, `rope_scaling` at the
 * top level) and transformers 5 (`rope_parameters`).
 */
export type RopeScaling =
  | {type: 'default'}
  | {type: 'linear'; factor: number}
  | {type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number}

export interface TeacherConfig {
  family: 'llama' | 'phi'
  architecture: string
  vocabSize: number
  hiddenSize: number
  intermediateSize: number
  numLayers: number
  numHeads: number
  numKvHeads: number
  headDim: number
  /** RMSNorm eps (llama) or LayerNorm eps (phi). */
  normEps: number
  ropeTheta: number
  /** Features per head that rotate (headDim unless Phi's partial_rotary_factor < 1). */
  rotaryDim: number
  ropeScaling: RopeScaling
  maxPositions: number
  attentionBias: boolean
  mlpBias: boolean
  tieWordEmbeddings: boolean
  hiddenAct: string
  bosTokenId?: number
  eosTokenId?: number | number[]
}

export const SUPPORTED_ARCHITECTURES = ['llama (LlamaForCausalLM)', 'phi (PhiForCausalLM)'] as const

type Json = Record<string, unknown>

export function parseTeacherConfig(raw: Json, where = 'config.json'): TeacherConfig {
  const modelType = raw.model_type
  if (typeof modelType !== 'string') {
    throw new HybridizeError(`${where} has no model_type; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`, {code: 'E_CONFIG'})
  }
  if (modelType !== 'llama' && modelType !== 'phi') {
    throw new HybridizeError(`${where}: model_type '${modelType}' is not supported; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`, {code: 'E_ARCH'})
  }
  const num = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new HybridizeError(`${where}: '${key}' must be a number`, {code: 'E_CONFIG'})
    return v
  }
  const hiddenSize = num('hidden_size')
  const numHeads = num('num_attention_heads')
  const numKvHeads = typeof raw.num_key_value_heads === 'number' ? raw.num_key_value_heads : numHeads
  const headDim = typeof raw.head_dim === 'number' ? raw.head_dim : hiddenSize / numHeads
  if (!Number.isInteger(headDim) || numHeads % numKvHeads !== 0) {
    throw new HybridizeError(`${where}: ${numHeads} heads, ${numKvHeads} key/value heads and head_dim ${headDim} do not fit`, {code: 'E_CONFIG'})
  }
  const rope = readRope(raw, where)
  const rotaryDim = modelType === 'phi' ? Math.floor(headDim * rope.partialRotaryFactor) : headDim
  if (rotaryDim % 2 !== 0) throw new HybridizeError(`${where}: rotary dimension ${rotaryDim} is odd`, {code: 'E_CONFIG'})
  if (modelType === 'phi' && raw.qk_layernorm === true) {
    throw new HybridizeError(`${where}: Phi with qk_layernorm is not supported`, {code: 'E_CONFIG'})
  }
  const architectures = Array.isArray(raw.architectures) ? raw.architectures : []
  return {
    family: modelType,
    architecture: typeof architectures[0] === 'string' ? architectures[0] : modelType,
    vocabSize: num('vocab_size'),
    hiddenSize,
    intermediateSize: num('intermediate_size'),
    numLayers: num('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    normEps: modelType === 'llama' ? num('rms_norm_eps', 1e-6) : num('layer_norm_eps', 1e-5),
    ropeTheta: rope.theta,
    rotaryDim,
    ropeScaling: rope.scaling,
    maxPositions: num('max_position_embeddings', 2048),
    attentionBias: modelType === 'phi' ? true : raw.attention_bias === true,
    mlpBias: modelType === 'phi' ? true : raw.mlp_bias === true,
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    hiddenAct: typeof raw.hidden_act === 'string' ? raw.hidden_act : modelType === 'llama' ? 'silu' : 'gelu_new',
    bosTokenId: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : undefined,
    eosTokenId: raw.eos_token_id as number | number[] | undefined,
  }
}

function readRope(raw: Json, where: string): {theta: number; partialRotaryFactor: number; scaling: RopeScaling} {
  // transformers 5 nests everything in rope_parameters; transformers 4 keeps it at the top level.
  const params = (raw.rope_parameters ?? raw.rope_scaling ?? {}) as Json
  const theta = Number(params.rope_theta ?? raw.rope_theta ?? 10000)
  const partialRotaryFactor = Number(params.partial_rotary_factor ?? raw.partial_rotary_factor ?? 1)
  const type = String(params.rope_type ?? params.type ?? 'default')
  const factor = Number(params.factor ?? 1)
  switch (type) {
    case 'default':
      return {theta, partialRotaryFactor, scaling: {type: 'default'}}
    case 'linear':
      return {theta, partialRotaryFactor, scaling: {type: 'linear', factor}}
    case 'llama3':
      return {
        theta,
        partialRotaryFactor,
        scaling: {
          type: 'llama3',
          factor,
          lowFreqFactor: Number(params.low_freq_factor ?? 1),
          highFreqFactor: Number(params.high_freq_factor ?? 4),
          originalMaxPositions: Number(params.original_max_position_embeddings ?? 8192),
        },
      }
    default:
      throw new HybridizeError(`${where}: rope type '${type}' is not supported (default, linear, llama3)`, {code: 'E_CONFIG'})
  }
}
