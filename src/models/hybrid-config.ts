import {HybridizeError, ShapeError} from '../errors.js'
import {parseTeacherConfig, type TeacherConfig} from './config.js'
import {HYBRID_FIELDS, MIXER_FIELDS} from './config-fields.js'
import {readFields} from './config-validate.js'
import {checkMixerConfig, type MixerConfig} from './mixers/create.js'
import {MIXER_KINDS, type MixerKind} from './mixers/mixer.js'

/**
 * config.json of a hybrid written by `hybridize rewrite`, `model_type: "hybridize-hybrid"`:
 *
 *   {
 *     "model_type": "hybridize-hybrid",
 *     "architectures": ["HybridizeHybridForCausalLM"],
 *     "hybridize_format": 1,
 *     "vocab_size", "hidden_size", "num_hidden_layers",     copies, for tools that only read these
 *     "teacher_config": { ...the teacher's config.json... }, embeddings, norms, MLPs and RoPE
 *     "mixer": {"type": "discrete-mamba2" | "mamba2" | "mamba3", ...settings in snake_case},
 *     "adapter": {"type": "double-block-adapter", "eps": 1e-5},
 *     "layers": [{"attention_heads": [h, ...]}, ...]         teacher query heads kept, per layer
 *   }
 *
 * A layer keeping no heads is a plain SSM layer; one keeping every head is the teacher's attention
 * layer unchanged (grouped key/value heads included); one keeping some runs the SSM over the full
 * width beside attention over the kept heads (each with its own key and value), combined by
 * retrieval-aware distillation's DoubleBlockAdapter. Tensor names: see hybrid-weights.ts.
 */
export const HYBRID_MODEL_TYPE = 'hybridize-hybrid'
export const HYBRID_ARCHITECTURE = 'HybridizeHybridForCausalLM'
export const HYBRID_FORMAT = 1

export interface HybridLayer {
  /** Teacher query heads kept as attention, ascending. */
  attentionHeads: number[]
}

export type LayerKind = 'ssm' | 'hybrid' | 'attention'

export interface HybridConfig {
  /** The skeleton the hybrid shares with its teacher. */
  teacher: TeacherConfig
  /** The teacher's config.json as it was, written back verbatim. */
  teacherJson: Record<string, unknown>
  mixer: MixerConfig
  adapterEps: number
  layers: HybridLayer[]
}

export function layerKind(cfg: HybridConfig, l: number): LayerKind {
  const kept = cfg.layers[l].attentionHeads.length
  return kept === 0 ? 'ssm' : kept === cfg.teacher.numHeads ? 'attention' : 'hybrid'
}

/** Each mixer setting's JSON key, in the names of the reference implementations where they have one. */
const MIXER_KEYS: Record<MixerKind, Record<string, string>> = {
  'discrete-mamba2': {hiddenSize: 'd_model', vHeads: 'n_v_heads', qkHeads: 'n_qk_heads', headDim: 'head_dim', stateDim: 'd_state', convWidth: 'd_conv', convBias: 'conv_bias', bias: 'bias', chunk: 'chunk_size'},
  mamba2: {hiddenSize: 'd_model', heads: 'n_heads', headDim: 'head_dim', stateDim: 'd_state', xHeads: 'x_heads', bGroups: 'b_groups', cGroups: 'c_groups', normGroups: 'norm_groups', normEps: 'norm_eps', convWidth: 'd_conv', convBias: 'conv_bias', bias: 'bias', chunk: 'chunk_size'},
  mamba3: {hiddenSize: 'd_model', heads: 'n_heads', headDim: 'head_dim', stateDim: 'd_state', groups: 'ngroups', mimoRank: 'mimo_rank', rotaryAngles: 'n_rotary_angles', aFloor: 'a_floor', outNorm: 'out_norm', normEps: 'norm_eps', bias: 'bias', chunk: 'chunk_size'},
}

export function mixerToJson(cfg: MixerConfig): Record<string, unknown> {
  const json: Record<string, unknown> = {type: cfg.kind}
  for (const [field, key] of Object.entries(MIXER_KEYS[cfg.kind])) json[key] = (cfg as unknown as Record<string, unknown>)[field]
  return json
}

export function mixerFromJson(json: unknown, where: string): MixerConfig {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new HybridizeError(`${where}: mixer is missing; it must be an object with a type`, {code: 'E_CONFIG'})
  const kind = (json as Record<string, unknown>).type as MixerKind
  if (!MIXER_KINDS.includes(kind)) throw new HybridizeError(`${where}: mixer.type must be one of ${MIXER_KINDS.join(', ')}, got ${JSON.stringify(kind)}`, {code: 'E_CONFIG'})
  const f = readFields({mixer: json}, MIXER_FIELDS, {family: kind, where})
  const cfg: Record<string, unknown> = {kind}
  for (const [field, key] of Object.entries(MIXER_KEYS[kind])) cfg[field] = f[`mixer.${key}`]
  try {
    checkMixerConfig(cfg as unknown as MixerConfig)
  } catch (err) {
    if (err instanceof ShapeError) throw new HybridizeError(`${where}: the mixer's settings do not fit together (${err.message})`, {code: 'E_CONFIG'})
    throw err
  }
  return cfg as unknown as MixerConfig
}

export function hybridConfigToJson(cfg: HybridConfig): Record<string, unknown> {
  return {
    model_type: HYBRID_MODEL_TYPE,
    architectures: [HYBRID_ARCHITECTURE],
    hybridize_format: HYBRID_FORMAT,
    vocab_size: cfg.teacher.vocabSize,
    hidden_size: cfg.teacher.hiddenSize,
    num_hidden_layers: cfg.teacher.numLayers,
    teacher_config: cfg.teacherJson,
    mixer: mixerToJson(cfg.mixer),
    adapter: {type: 'double-block-adapter', eps: cfg.adapterEps},
    layers: cfg.layers.map((l) => ({attention_heads: l.attentionHeads})),
  }
}

export function parseHybridConfig(raw: Record<string, unknown>, where = 'config.json'): HybridConfig {
  if (raw.model_type !== HYBRID_MODEL_TYPE) throw new HybridizeError(`${where}: model_type is not ${HYBRID_MODEL_TYPE}`, {code: 'E_CONFIG'})
  const f = readFields(raw, HYBRID_FIELDS, {family: HYBRID_MODEL_TYPE, where})
  if (f.hybridize_format !== HYBRID_FORMAT) {
    throw new HybridizeError(`${where}: hybridize_format ${String(f.hybridize_format)} is not supported (${HYBRID_FORMAT})`, {code: 'E_CONFIG'})
  }
  const teacherJson = raw.teacher_config
  if (!teacherJson || typeof teacherJson !== 'object' || Array.isArray(teacherJson)) throw new HybridizeError(`${where}: teacher_config is missing`, {code: 'E_CONFIG'})
  const teacher = parseTeacherConfig(teacherJson as Record<string, unknown>, `${where} (teacher_config)`)
  // The top-level copies are for tools that read only these; a disagreement means a hand edit.
  const copies = {vocab_size: teacher.vocabSize, hidden_size: teacher.hiddenSize, num_hidden_layers: teacher.numLayers}
  for (const [key, value] of Object.entries(copies)) {
    if (f[key] !== undefined && f[key] !== value) {
      throw new HybridizeError(`${where}: ${key} is ${String(f[key])}, but teacher_config.${key} is ${value}; they must agree`, {code: 'E_CONFIG'})
    }
  }
  const layersJson = raw.layers
  if (!Array.isArray(layersJson) || layersJson.length !== teacher.numLayers) {
    throw new HybridizeError(`${where}: 'layers' must list ${teacher.numLayers} layers (teacher_config.num_hidden_layers)`, {code: 'E_CONFIG'})
  }
  const layers = layersJson.map((entry, l) => {
    const heads = (entry as Record<string, unknown>)?.attention_heads
    const ok = Array.isArray(heads) && heads.every((h, i) => Number.isInteger(h) && h >= 0 && h < teacher.numHeads && (i === 0 || h > heads[i - 1]))
    if (!ok) throw new HybridizeError(`${where}: layers[${l}].attention_heads must be ascending head indices below ${teacher.numHeads}`, {code: 'E_CONFIG'})
    return {attentionHeads: heads as number[]}
  })
  const mixer = mixerFromJson(raw.mixer, where)
  if (mixer.hiddenSize !== teacher.hiddenSize) {
    throw new HybridizeError(`${where}: mixer.d_model ${mixer.hiddenSize} must equal teacher_config.hidden_size ${teacher.hiddenSize}`, {code: 'E_CONFIG'})
  }
  return {
    teacher,
    teacherJson: teacherJson as Record<string, unknown>,
    mixer,
    adapterEps: f['adapter.eps'] as number,
    layers,
  }
}
