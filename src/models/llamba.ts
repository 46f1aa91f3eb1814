import {join} from 'node:path'
import type {Backend} from '../backend/backend.js'
import {HybridizeError} from '../errors.js'
import type {TeacherConfig} from './config.js'
import type {HybridConfig} from './hybrid-config.js'
import {expectedHybridWeights} from './hybrid-weights.js'
import {HybridModel} from './hybrid.js'
import {readConfigJson} from './load.js'
import {loadWeights} from './load-weights.js'

/**
 * Llamba checkpoints (`model_type: "llamba"`, cartesia-ai/edge; Bick et al. 2025, arXiv 2502.14458): a Llama
 * skeleton whose every layer is a discrete Mamba-2 mixer, which is a hybrid keeping no attention
 * head. The config becomes a HybridConfig and the tensors are read under the hybrid's names:
 *   backbone.embedding.weight             -> model.embed_tokens.weight
 *   backbone.layers.i.mixer.*             -> model.layers.i.ssm.*
 *   backbone.layers.i.{input_layernorm, post_attention_layernorm, mlp.*}  -> model.layers.i.*
 *   backbone.final_layernorm.weight       -> model.norm.weight
 * Every norm uses norm_epsilon (Llamba's own blocks fix 1e-5, which its released configs use too).
 */
type Json = Record<string, unknown>

export function llambaToHybridConfig(raw: Json, where = 'config.json'): HybridConfig {
  const obj = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {})
  const num = (o: Json, key: string, fallback?: number): number => {
    const v = o[key] ?? fallback
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new HybridizeError(`${where}: '${key}' must be a number`, {code: 'E_CONFIG'})
    return v
  }
  const ssm = obj(raw.ssm_cfg)
  const mlp = obj(raw.mlp_cfg)
  if ((ssm.activation ?? 'identity') !== 'identity') throw new HybridizeError(`${where}: Llamba with ssm_cfg.activation '${String(ssm.activation)}' is not supported (identity)`, {code: 'E_CONFIG'})
  if ((mlp.act_fn ?? 'silu') !== 'silu') throw new HybridizeError(`${where}: Llamba with mlp_cfg.act_fn '${String(mlp.act_fn)}' is not supported (silu)`, {code: 'E_CONFIG'})
  if (raw.lm_head_bias === true) throw new HybridizeError(`${where}: Llamba with lm_head_bias is not supported`, {code: 'E_CONFIG'})
  const hidden = num(raw, 'd_model')
  const vHeads = num(ssm, 'n_v_heads', 32)
  const inner = num(ssm, 'expand', 1) * hidden
  const multiple = num(raw, 'pad_vocab_size_multiple', 8)
  const vocab = Math.ceil(num(raw, 'vocab_size') / multiple) * multiple
  const layers = num(raw, 'n_layer')
  const headDim = inner / vHeads
  const teacher: TeacherConfig = {
    family: 'llama',
    architecture: 'LlamaForCausalLM',
    vocabSize: vocab,
    hiddenSize: hidden,
    intermediateSize: num(mlp, 'intermediate_size'),
    numLayers: layers,
    numHeads: vHeads,
    numKvHeads: vHeads,
    headDim,
    normEps: num(raw, 'norm_epsilon', 1e-5),
    ropeTheta: 10000,
    rotaryDim: headDim - (headDim % 2),
    ropeScaling: {type: 'default'},
    maxPositions: 1 << 20,
    attentionBias: false,
    mlpBias: mlp.bias === true,
    tieWordEmbeddings: raw.tie_embeddings !== false,
    hiddenAct: 'silu',
  }
  return {
    teacher,
    teacherJson: raw,
    mixer: {
      kind: 'discrete-mamba2',
      hiddenSize: hidden,
      vHeads,
      qkHeads: num(ssm, 'n_qk_heads', 32),
      headDim,
      stateDim: num(ssm, 'd_state', 64),
      convWidth: num(ssm, 'd_conv', 4),
      convBias: ssm.conv_bias !== false,
      bias: ssm.bias === true,
      chunk: num(ssm, 'chunk_size', 128),
    },
    adapterEps: 1e-5,
    layers: Array.from({length: layers}, () => ({attentionHeads: []})),
  }
}

/** The Llamba name of a hybrid tensor. */
export function llambaName(name: string): string {
  if (name === 'model.embed_tokens.weight') return 'backbone.embedding.weight'
  if (name === 'model.norm.weight') return 'backbone.final_layernorm.weight'
  return name.replace(/^model\.layers\.(\d+)\.ssm\./, 'backbone.layers.$1.mixer.').replace(/^model\.layers\./, 'backbone.layers.')
}

export async function loadLlamba(folder: string, backend: Backend): Promise<HybridModel> {
  const config = llambaToHybridConfig(await readConfigJson(folder), join(folder, 'config.json'))
  const expected = new Map([...expectedHybridWeights(config)].map(([name, shape]) => [llambaName(name), shape]))
  const stored = await loadWeights(folder, expected, 'Llamba', backend)
  const weights = new Map([...expectedHybridWeights(config).keys()].map((name) => [name, stored.get(llambaName(name))!]))
  return new HybridModel(config, weights, backend)
}
