/**
 * Every config.json field hybridize reads, as one table per kind of config: its type, range,
 * integer-ness, default, and the families (model types or mixer kinds) that read it. The parsers
 * (config.ts, mamba2-config.ts, llamba.ts, hybrid-config.ts) read their fields only through
 * `readFields` (config-validate.ts), which builds zod schemas from these tables, so a bad value
 * gets one line naming the field, and the same tables can become JSON Schemas (z.toJSONSchema).
 *
 * Keys with a dot are nested (`ssm_cfg.d_state`). `null` counts as absent (transformers writes
 * None as null). Upper bounds are far above any released model; they stop absurd values (1e9
 * layers) before anything is allocated for them, and the checkpoint's shapes are checked later.
 */
export type FieldSpec = {
  key: string
  /** The families that read this field; a family not listed ignores it. */
  families: readonly string[]
  /** Absent (or null) is an error unless a default is given; fields without either stay undefined. */
  required?: boolean
  /** What the field is, for error messages and JSON Schema descriptions. */
  about?: string
} & (
  | {type: 'int'; min: number; max: number; default?: number}
  /** `above` is an exclusive lower bound, `min`/`max` inclusive. */
  | {type: 'number'; above?: number; min?: number; max?: number; default?: number}
  | {type: 'boolean'; default?: boolean}
  | {type: 'enum'; values: readonly string[]; default?: string}
  /** A token id or a list of them (eos_token_id). */
  | {type: 'token-ids'}
)

export const MAX_LAYERS = 4096
export const MAX_VOCAB = 1 << 24
export const MAX_WIDTH = 1 << 17
export const MAX_MLP_WIDTH = 1 << 20
export const MAX_HEADS = 4096
export const MAX_HEAD_DIM = 4096
export const MAX_POSITIONS = 1 << 26
export const MAX_STATE = 4096
export const MAX_CONV = 64
export const MAX_CHUNK = 1 << 16

const TEACHERS = ['llama', 'phi'] as const
const LLAMA = ['llama'] as const
const PHI = ['phi'] as const

const positiveInt = (max: number) => ({type: 'int', min: 1, max}) as const
/** Norm epsilons: a positive number, at most 1 (anything larger swamps the variance it guards). */
const epsilon = (defaultValue: number) => ({type: 'number', above: 0, max: 1, default: defaultValue}) as const

/** Llama and Phi (transformers' LlamaConfig, PhiConfig), top level. RoPE fields: ROPE_FIELDS. */
export const TEACHER_FIELDS: readonly FieldSpec[] = [
  {key: 'vocab_size', families: TEACHERS, required: true, ...positiveInt(MAX_VOCAB)},
  {key: 'hidden_size', families: TEACHERS, required: true, ...positiveInt(MAX_WIDTH)},
  {key: 'intermediate_size', families: TEACHERS, required: true, ...positiveInt(MAX_MLP_WIDTH)},
  {key: 'num_hidden_layers', families: TEACHERS, required: true, ...positiveInt(MAX_LAYERS)},
  {key: 'num_attention_heads', families: TEACHERS, required: true, ...positiveInt(MAX_HEADS)},
  {key: 'num_key_value_heads', families: TEACHERS, ...positiveInt(MAX_HEADS), about: 'defaults to num_attention_heads'},
  {key: 'head_dim', families: TEACHERS, ...positiveInt(MAX_HEAD_DIM), about: 'defaults to hidden_size / num_attention_heads'},
  {key: 'rms_norm_eps', families: LLAMA, ...epsilon(1e-6)},
  {key: 'layer_norm_eps', families: PHI, ...epsilon(1e-5)},
  {key: 'max_position_embeddings', families: TEACHERS, ...positiveInt(MAX_POSITIONS), default: 2048},
  {key: 'attention_bias', families: LLAMA, type: 'boolean', default: false},
  {key: 'mlp_bias', families: LLAMA, type: 'boolean', default: false},
  {key: 'tie_word_embeddings', families: TEACHERS, type: 'boolean', default: false},
  {key: 'hidden_act', families: LLAMA, type: 'enum', values: ['silu', 'swish'], default: 'silu'},
  // gelu_pytorch_tanh is the same tanh approximation as gelu_new.
  {key: 'hidden_act', families: PHI, type: 'enum', values: ['gelu_new', 'gelu_pytorch_tanh'], default: 'gelu_new'},
  {key: 'qk_layernorm', families: PHI, type: 'boolean', default: false},
  {key: 'bos_token_id', families: TEACHERS, type: 'token-ids'},
  {key: 'eos_token_id', families: TEACHERS, type: 'token-ids'},
]

/**
 * RoPE, read from wherever the config keeps it: transformers 5's `rope_parameters`, or
 * transformers 4's top-level `rope_theta` / `partial_rotary_factor` and `rope_scaling`
 * (whose `type` is `rope_type` here). Messages name the key where the value was found.
 */
export const ROPE_FIELDS: readonly FieldSpec[] = [
  {key: 'rope_theta', families: TEACHERS, type: 'number', above: 0, default: 10000},
  {key: 'partial_rotary_factor', families: PHI, type: 'number', above: 0, max: 1, default: 1},
  {key: 'rope_type', families: TEACHERS, type: 'enum', values: ['default', 'linear', 'llama3'], default: 'default'},
  {key: 'factor', families: TEACHERS, type: 'number', above: 0, default: 1},
  {key: 'low_freq_factor', families: TEACHERS, type: 'number', above: 0, default: 1},
  {key: 'high_freq_factor', families: TEACHERS, type: 'number', above: 0, default: 4},
  {key: 'original_max_position_embeddings', families: TEACHERS, ...positiveInt(MAX_POSITIONS), default: 8192},
]

const MAMBA2 = ['mamba2'] as const

/** transformers' Mamba2Config. time_step_limit is checked apart (its JSON may hold {"__float__": "Infinity"}). */
export const MAMBA2_FIELDS: readonly FieldSpec[] = [
  {key: 'vocab_size', families: MAMBA2, required: true, ...positiveInt(MAX_VOCAB)},
  {key: 'hidden_size', families: MAMBA2, required: true, ...positiveInt(MAX_WIDTH)},
  {key: 'num_hidden_layers', families: MAMBA2, required: true, ...positiveInt(MAX_LAYERS)},
  {key: 'num_heads', families: MAMBA2, required: true, ...positiveInt(MAX_HEADS)},
  {key: 'head_dim', families: MAMBA2, required: true, ...positiveInt(MAX_HEAD_DIM)},
  {key: 'expand', families: MAMBA2, type: 'number', above: 0, max: 64, default: 2, about: 'transformers takes int(expand × hidden_size): 1.5 is valid'},
  {key: 'state_size', families: MAMBA2, required: true, ...positiveInt(MAX_STATE)},
  {key: 'n_groups', families: MAMBA2, ...positiveInt(MAX_HEADS), default: 1},
  {key: 'conv_kernel', families: MAMBA2, type: 'int', min: 2, max: MAX_CONV, default: 4},
  {key: 'chunk_size', families: MAMBA2, ...positiveInt(MAX_CHUNK), default: 256},
  {key: 'layer_norm_epsilon', families: MAMBA2, ...epsilon(1e-5)},
  {key: 'use_conv_bias', families: MAMBA2, type: 'boolean', default: true},
  {key: 'use_bias', families: MAMBA2, type: 'boolean', default: false},
  {key: 'tie_word_embeddings', families: MAMBA2, type: 'boolean', default: false},
  {key: 'hidden_act', families: MAMBA2, type: 'enum', values: ['silu', 'swish'], default: 'silu'},
]

const LLAMBA = ['llamba'] as const

/** Llamba (cartesia-ai/edge): the model, its ssm_cfg and mlp_cfg. */
export const LLAMBA_FIELDS: readonly FieldSpec[] = [
  {key: 'd_model', families: LLAMBA, required: true, ...positiveInt(MAX_WIDTH)},
  {key: 'n_layer', families: LLAMBA, required: true, ...positiveInt(MAX_LAYERS)},
  {key: 'vocab_size', families: LLAMBA, required: true, ...positiveInt(MAX_VOCAB)},
  {key: 'pad_vocab_size_multiple', families: LLAMBA, ...positiveInt(1 << 16), default: 8},
  {key: 'norm_epsilon', families: LLAMBA, ...epsilon(1e-5)},
  {key: 'tie_embeddings', families: LLAMBA, type: 'boolean', default: true},
  {key: 'lm_head_bias', families: LLAMBA, type: 'boolean', default: false},
  {key: 'ssm_cfg.n_v_heads', families: LLAMBA, ...positiveInt(MAX_HEADS), default: 32},
  {key: 'ssm_cfg.n_qk_heads', families: LLAMBA, ...positiveInt(MAX_HEADS), default: 32},
  {key: 'ssm_cfg.expand', families: LLAMBA, ...positiveInt(64), default: 1},
  {key: 'ssm_cfg.d_state', families: LLAMBA, ...positiveInt(MAX_STATE), default: 64},
  {key: 'ssm_cfg.d_conv', families: LLAMBA, type: 'int', min: 2, max: MAX_CONV, default: 4},
  {key: 'ssm_cfg.chunk_size', families: LLAMBA, ...positiveInt(MAX_CHUNK), default: 128},
  {key: 'ssm_cfg.conv_bias', families: LLAMBA, type: 'boolean', default: true},
  {key: 'ssm_cfg.bias', families: LLAMBA, type: 'boolean', default: false},
  {key: 'ssm_cfg.activation', families: LLAMBA, type: 'enum', values: ['identity'], default: 'identity'},
  {key: 'mlp_cfg.intermediate_size', families: LLAMBA, required: true, ...positiveInt(MAX_MLP_WIDTH)},
  {key: 'mlp_cfg.bias', families: LLAMBA, type: 'boolean', default: false},
  {key: 'mlp_cfg.act_fn', families: LLAMBA, type: 'enum', values: ['silu'], default: 'silu'},
]

const MAMBA_SSM = ['mamba_ssm'] as const

/**
 * mamba_ssm's MambaConfig (config.json as `MambaLMHeadModel.save_pretrained` writes it, no model_type) and the
 * Mamba2 or Mamba3 module's arguments under ssm_cfg (mamba_ssm/models/config_mamba.py, mamba_ssm/modules/mamba2.py,
 * mamba_ssm/modules/mamba3.py), with their defaults. The initialisation arguments (dt_min, A_init_range, ...) do not change a forward and are ignored.
 */
export const MAMBA_SSM_FIELDS: readonly FieldSpec[] = [
  {key: 'd_model', families: MAMBA_SSM, required: true, ...positiveInt(MAX_WIDTH)},
  {key: 'n_layer', families: MAMBA_SSM, required: true, ...positiveInt(MAX_LAYERS)},
  {key: 'vocab_size', families: MAMBA_SSM, required: true, ...positiveInt(MAX_VOCAB)},
  {key: 'd_intermediate', families: MAMBA_SSM, type: 'int', min: 0, max: MAX_MLP_WIDTH, default: 0},
  {key: 'pad_vocab_size_multiple', families: MAMBA_SSM, ...positiveInt(1 << 16), default: 8},
  {key: 'rms_norm', families: MAMBA_SSM, type: 'boolean', default: true},
  {key: 'tie_embeddings', families: MAMBA_SSM, type: 'boolean', default: true},
  {key: 'ssm_cfg.layer', families: MAMBA_SSM, type: 'enum', values: ['Mamba1', 'Mamba2', 'Mamba3'], default: 'Mamba1'},
  {key: 'ssm_cfg.d_state', families: MAMBA_SSM, ...positiveInt(MAX_STATE), default: 128},
  {key: 'ssm_cfg.d_conv', families: MAMBA_SSM, type: 'int', min: 2, max: MAX_CONV, default: 4},
  {key: 'ssm_cfg.expand', families: MAMBA_SSM, ...positiveInt(64), default: 2},
  {key: 'ssm_cfg.headdim', families: MAMBA_SSM, ...positiveInt(MAX_HEAD_DIM), default: 64},
  {key: 'ssm_cfg.d_ssm', families: MAMBA_SSM, ...positiveInt(MAX_WIDTH), about: 'defaults to expand × d_model'},
  {key: 'ssm_cfg.ngroups', families: MAMBA_SSM, ...positiveInt(MAX_HEADS), default: 1},
  {key: 'ssm_cfg.rmsnorm', families: MAMBA_SSM, type: 'boolean', default: true},
  {key: 'ssm_cfg.norm_before_gate', families: MAMBA_SSM, type: 'boolean', default: false},
  {key: 'ssm_cfg.D_has_hdim', families: MAMBA_SSM, type: 'boolean', default: false},
  {key: 'ssm_cfg.bias', families: MAMBA_SSM, type: 'boolean', default: false},
  {key: 'ssm_cfg.conv_bias', families: MAMBA_SSM, type: 'boolean', default: true},
  {key: 'ssm_cfg.chunk_size', families: MAMBA_SSM, ...positiveInt(MAX_CHUNK), about: 'defaults to 256 (Mamba2), 64 (Mamba3)'},
  {key: 'ssm_cfg.rope_fraction', families: MAMBA_SSM, type: 'number', above: 0, max: 1, default: 0.5, about: 'Mamba3: 0.5 or 1'},
  {key: 'ssm_cfg.A_floor', families: MAMBA_SSM, type: 'number', min: 0, max: 1, default: 1e-4},
  {key: 'ssm_cfg.is_outproj_norm', families: MAMBA_SSM, type: 'boolean', default: false},
  {key: 'ssm_cfg.is_mimo', families: MAMBA_SSM, type: 'boolean', default: false},
  {key: 'ssm_cfg.mimo_rank', families: MAMBA_SSM, ...positiveInt(64), default: 4},
]

const MAMBA_IN_LLAMA = ['mamba-in-llama'] as const

/**
 * MambaInLlama's mamba_config.json (jxiw/MambaInLlama, mamba2/hybrid_mamba_config.py MambaConfig, and the arguments
 * of its Mamba2 under ssm_cfg, mamba2/hybrid_mamba_layer.py), with their defaults.
 */
export const MAMBA_IN_LLAMA_FIELDS: readonly FieldSpec[] = [
  {key: 'd_model', families: MAMBA_IN_LLAMA, ...positiveInt(MAX_WIDTH), default: 2560},
  {key: 'n_layer', families: MAMBA_IN_LLAMA, ...positiveInt(MAX_LAYERS), default: 32},
  {key: 'vocab_size', families: MAMBA_IN_LLAMA, ...positiveInt(MAX_VOCAB)},
  {key: 'd_inner', families: MAMBA_IN_LLAMA, ...positiveInt(MAX_WIDTH), about: 'defaults to ssm_cfg.expand × d_model'},
  {key: 'd_xb', families: MAMBA_IN_LLAMA, ...positiveInt(MAX_WIDTH), default: 2560},
  {key: 'intermediate_size', families: MAMBA_IN_LLAMA, ...positiveInt(MAX_MLP_WIDTH), default: 10240},
  {key: 'rms_norm_eps', families: MAMBA_IN_LLAMA, ...epsilon(1e-5)},
  {key: 'hidden_act', families: MAMBA_IN_LLAMA, type: 'enum', values: ['silu'], default: 'silu'},
  {key: 'ssm_cfg.d_state', families: MAMBA_IN_LLAMA, ...positiveInt(MAX_STATE), default: 128},
  {key: 'ssm_cfg.d_conv', families: MAMBA_IN_LLAMA, type: 'int', min: 2, max: MAX_CONV, default: 4},
  {key: 'ssm_cfg.expand', families: MAMBA_IN_LLAMA, ...positiveInt(64), default: 2},
  {key: 'ssm_cfg.ngroups', families: MAMBA_IN_LLAMA, ...positiveInt(MAX_HEADS), default: 1},
  {key: 'ssm_cfg.d_ssm', families: MAMBA_IN_LLAMA, ...positiveInt(MAX_WIDTH), about: 'defaults to d_inner'},
  {key: 'ssm_cfg.rmsnorm', families: MAMBA_IN_LLAMA, type: 'boolean', default: true},
  {key: 'ssm_cfg.norm_before_gate', families: MAMBA_IN_LLAMA, type: 'boolean', default: false},
  {key: 'ssm_cfg.D_has_hdim', families: MAMBA_IN_LLAMA, type: 'boolean', default: false},
  {key: 'ssm_cfg.repeat_kv_before_conv', families: MAMBA_IN_LLAMA, type: 'boolean', default: false},
  {key: 'ssm_cfg.bias', families: MAMBA_IN_LLAMA, type: 'boolean', default: false},
  {key: 'ssm_cfg.conv_bias', families: MAMBA_IN_LLAMA, type: 'boolean', default: true},
  {key: 'ssm_cfg.chunk_size', families: MAMBA_IN_LLAMA, ...positiveInt(MAX_CHUNK), default: 256},
]

const PHI_MAMBA = ['phi-mamba'] as const

/**
 * Phi-Mamba's config.json (goombalab/phi-mamba, utils/config.py Config.to_dict, as modules/lm_head.py LMHeadModel
 * reads it): the model under LanguageModel.input and MixerModel.input, its one block of layers under Block1 and the
 * discrete Mamba-2's arguments under Block1.core_input (modules/mixers/discrete_mamba2.py Mixer), with their defaults.
 */
export const PHI_MAMBA_FIELDS: readonly FieldSpec[] = [
  {key: 'LanguageModel.input.vocab_size', families: PHI_MAMBA, required: true, ...positiveInt(MAX_VOCAB)},
  {key: 'LanguageModel.input.pad_vocab_size_multiple', families: PHI_MAMBA, ...positiveInt(1 << 16), default: 8},
  {key: 'MixerModel.input.d_model', families: PHI_MAMBA, required: true, ...positiveInt(MAX_WIDTH)},
  {key: 'MixerModel.input.n_layer', families: PHI_MAMBA, required: true, ...positiveInt(MAX_LAYERS)},
  {key: 'MixerModel.input.lm_head_prenorm', families: PHI_MAMBA, type: 'enum', values: ['layer'], default: 'layer'},
  {key: 'Block1.n_layers', families: PHI_MAMBA, required: true, ...positiveInt(MAX_LAYERS)},
  {key: 'Block1.BlockType', families: PHI_MAMBA, type: 'enum', values: ['modules.phi_block'], default: 'modules.phi_block'},
  {key: 'Block1.CoreType', families: PHI_MAMBA, type: 'enum', values: ['modules.mixers.discrete_mamba2'], default: 'modules.mixers.discrete_mamba2'},
  {key: 'Block1.core_input.d_state', families: PHI_MAMBA, ...positiveInt(MAX_STATE), default: 64},
  {key: 'Block1.core_input.n_qk_heads', families: PHI_MAMBA, ...positiveInt(MAX_HEADS), default: 32},
  {key: 'Block1.core_input.n_v_heads', families: PHI_MAMBA, ...positiveInt(MAX_HEADS), default: 32},
  {key: 'Block1.core_input.d_conv', families: PHI_MAMBA, type: 'int', min: 2, max: MAX_CONV, default: 4},
  {key: 'Block1.core_input.expand', families: PHI_MAMBA, ...positiveInt(64), default: 1},
  {key: 'Block1.core_input.activation', families: PHI_MAMBA, type: 'enum', values: ['identity'], default: 'identity'},
  {key: 'Block1.core_input.bias', families: PHI_MAMBA, type: 'boolean', default: false},
  {key: 'Block1.core_input.conv_bias', families: PHI_MAMBA, type: 'boolean', default: true},
  {key: 'Block1.core_input.chunk_size', families: PHI_MAMBA, ...positiveInt(MAX_CHUNK), default: 128},
]

const HYBRID = ['hybridize-hybrid'] as const

/**
 * A hybrid's own fields (the teacher's are TEACHER_FIELDS under teacher_config). The top-level
 * vocab_size, hidden_size and num_hidden_layers are copies for other tools: checked to agree.
 */
export const HYBRID_FIELDS: readonly FieldSpec[] = [
  {key: 'hybridize_format', families: HYBRID, required: true, ...positiveInt(1 << 10)},
  {key: 'vocab_size', families: HYBRID, ...positiveInt(MAX_VOCAB)},
  {key: 'hidden_size', families: HYBRID, ...positiveInt(MAX_WIDTH)},
  {key: 'num_hidden_layers', families: HYBRID, ...positiveInt(MAX_LAYERS)},
  {key: 'adapter.type', families: HYBRID, type: 'enum', values: ['double-block-adapter'], default: 'double-block-adapter'},
  {key: 'adapter.eps', families: HYBRID, ...epsilon(1e-5)},
]

const ALL_MIXERS = ['discrete-mamba2', 'mamba2', 'mamba3'] as const
const HEADS_MIXERS = ['mamba2', 'mamba3'] as const

/** A hybrid's `mixer` object; the families are the mixer kinds (its `type`). All settings are written by rewrite, so all are required. */
export const MIXER_FIELDS: readonly FieldSpec[] = [
  {key: 'mixer.d_model', families: ALL_MIXERS, required: true, ...positiveInt(MAX_WIDTH)},
  {key: 'mixer.n_v_heads', families: ['discrete-mamba2'], required: true, ...positiveInt(MAX_HEADS)},
  {key: 'mixer.n_qk_heads', families: ['discrete-mamba2'], required: true, ...positiveInt(MAX_HEADS)},
  {key: 'mixer.n_heads', families: HEADS_MIXERS, required: true, ...positiveInt(MAX_HEADS)},
  {key: 'mixer.head_dim', families: ALL_MIXERS, required: true, ...positiveInt(MAX_HEAD_DIM)},
  {key: 'mixer.d_state', families: ALL_MIXERS, required: true, ...positiveInt(MAX_STATE)},
  {key: 'mixer.x_heads', families: ['mamba2'], required: true, ...positiveInt(MAX_HEADS)},
  {key: 'mixer.b_groups', families: ['mamba2'], required: true, ...positiveInt(MAX_HEADS)},
  {key: 'mixer.c_groups', families: ['mamba2'], required: true, ...positiveInt(MAX_HEADS)},
  {key: 'mixer.norm_groups', families: ['mamba2'], required: true, ...positiveInt(MAX_WIDTH)},
  {key: 'mixer.ngroups', families: ['mamba3'], required: true, ...positiveInt(MAX_HEADS)},
  {key: 'mixer.mimo_rank', families: ['mamba3'], required: true, ...positiveInt(64)},
  {key: 'mixer.n_rotary_angles', families: ['mamba3'], required: true, ...positiveInt(MAX_STATE)},
  {key: 'mixer.a_floor', families: ['mamba3'], required: true, type: 'number', min: 0, max: 1},
  {key: 'mixer.out_norm', families: ['mamba3'], required: true, type: 'boolean'},
  {key: 'mixer.norm_eps', families: HEADS_MIXERS, required: true, type: 'number', above: 0, max: 1},
  {key: 'mixer.d_conv', families: ['discrete-mamba2', 'mamba2'], required: true, type: 'int', min: 2, max: MAX_CONV},
  {key: 'mixer.conv_bias', families: ['discrete-mamba2', 'mamba2'], required: true, type: 'boolean'},
  {key: 'mixer.bias', families: ALL_MIXERS, required: true, type: 'boolean'},
  {key: 'mixer.chunk_size', families: ALL_MIXERS, required: true, ...positiveInt(MAX_CHUNK)},
]

const GENERATION = ['generation'] as const

/** generation_config.json (transformers' GenerationConfig): the fields hybridize's decoding reads. */
export const GENERATION_FIELDS: readonly FieldSpec[] = [
  {key: 'do_sample', families: GENERATION, type: 'boolean', default: false},
  {key: 'temperature', families: GENERATION, type: 'number', min: 0, about: 'used when do_sample is true'},
  {key: 'top_p', families: GENERATION, type: 'number', above: 0, max: 1, about: 'used when do_sample is true'},
  {key: 'bos_token_id', families: GENERATION, type: 'token-ids'},
  {key: 'eos_token_id', families: GENERATION, type: 'token-ids'},
]
