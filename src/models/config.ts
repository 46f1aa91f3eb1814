import {HybridizeError} from '../errors.js'
import {ROPE_FIELDS, TEACHER_FIELDS} from './config-fields.js'
import {readFields} from './config-validate.js'

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
  const f = readFields(raw, TEACHER_FIELDS, {family: modelType, where})
  const num = (key: string) => f[key] as number
  const hiddenSize = num('hidden_size')
  const numHeads = num('num_attention_heads')
  const numKvHeads = (f.num_key_value_heads as number | undefined) ?? numHeads
  const headDim = (f.head_dim as number | undefined) ?? hiddenSize / numHeads
  if (!Number.isInteger(headDim)) {
    throw new HybridizeError(`${where}: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads} (and there is no head_dim)`, {code: 'E_CONFIG'})
  }
  if (numKvHeads > numHeads || numHeads % numKvHeads !== 0) {
    throw new HybridizeError(`${where}: num_key_value_heads ${numKvHeads} must divide num_attention_heads ${numHeads}`, {code: 'E_CONFIG'})
  }
  const rope = readRope(raw, modelType, where)
  const rotaryDim = modelType === 'phi' ? Math.floor(headDim * rope.partialRotaryFactor) : headDim
  if (rotaryDim < 2 || rotaryDim % 2 !== 0) {
    const factor = modelType === 'phi' ? ` × partial_rotary_factor ${rope.partialRotaryFactor}` : ''
    throw new HybridizeError(`${where}: the rotary dimension (head_dim ${headDim}${factor}) is ${rotaryDim}; it must be even and at least 2`, {code: 'E_CONFIG'})
  }
  if (f.qk_layernorm === true) throw new HybridizeError(`${where}: Phi with qk_layernorm is not supported`, {code: 'E_CONFIG'})
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
    normEps: num(modelType === 'llama' ? 'rms_norm_eps' : 'layer_norm_eps'),
    ropeTheta: rope.theta,
    rotaryDim,
    ropeScaling: rope.scaling,
    maxPositions: num('max_position_embeddings'),
    attentionBias: modelType === 'phi' ? true : f.attention_bias === true,
    mlpBias: modelType === 'phi' ? true : f.mlp_bias === true,
    tieWordEmbeddings: f.tie_word_embeddings === true,
    hiddenAct: f.hidden_act as string,
    bosTokenId: f.bos_token_id as number | undefined,
    eosTokenId: f.eos_token_id as number | number[] | undefined,
  }
}

/**
 * RoPE settings, from transformers 5's rope_parameters or transformers 4's top level and
 * rope_scaling, checked against ROPE_FIELDS under the name of the key each value came from.
 */
function readRope(raw: Json, family: 'llama' | 'phi', where: string): {theta: number; partialRotaryFactor: number; scaling: RopeScaling} {
  const nest = raw.rope_parameters !== undefined && raw.rope_parameters !== null ? 'rope_parameters' : 'rope_scaling'
  const params = raw[nest] ?? {}
  if (typeof params !== 'object' || Array.isArray(params)) {
    throw new HybridizeError(`${where}: ${nest} must be an object, got ${JSON.stringify(params)}`, {code: 'E_CONFIG'})
  }
  const view: Json = {}
  const names: Record<string, string> = {}
  const take = (key: string, nestedKey = key, topLevel = false) => {
    const nested = (params as Json)[nestedKey]
    const top = topLevel ? raw[key] : undefined
    if (nested !== undefined && nested !== null && top !== undefined && top !== null && top !== nested) {
      // A top-level value out of range is named as such before the two are compared.
      readFields({[key]: top}, ROPE_FIELDS.filter((spec) => spec.key === key), {family, where})
      throw new HybridizeError(`${where}: ${key} (${JSON.stringify(top)}) and ${nest}.${nestedKey} (${JSON.stringify(nested)}) disagree`, {code: 'E_CONFIG'})
    }
    if (nested !== undefined && nested !== null) {
      view[key] = nested
      names[key] = `${nest}.${nestedKey}`
    } else if (top !== undefined) {
      view[key] = top
    }
  }
  take('rope_theta', 'rope_theta', true)
  take('partial_rotary_factor', 'partial_rotary_factor', true)
  take('rope_type')
  if (view.rope_type === undefined) take('rope_type', 'type')
  for (const key of ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings']) take(key)
  const f = readFields(view, ROPE_FIELDS, {family, where, names})
  const num = (key: string) => f[key] as number
  const common = {theta: num('rope_theta'), partialRotaryFactor: family === 'phi' ? num('partial_rotary_factor') : 1}
  switch (f.rope_type) {
    case 'linear':
      return {...common, scaling: {type: 'linear', factor: num('factor')}}
    case 'llama3':
      if (num('high_freq_factor') <= num('low_freq_factor')) {
        throw new HybridizeError(`${where}: ${nest}.high_freq_factor (${num('high_freq_factor')}) must be above low_freq_factor (${num('low_freq_factor')})`, {code: 'E_CONFIG'})
      }
      return {
        ...common,
        scaling: {
          type: 'llama3',
          factor: num('factor'),
          lowFreqFactor: num('low_freq_factor'),
          highFreqFactor: num('high_freq_factor'),
          originalMaxPositions: num('original_max_position_embeddings'),
        },
      }
    default:
      return {...common, scaling: {type: 'default'}}
  }
}
