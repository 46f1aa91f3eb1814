import {join} from 'node:path'
import type {Backend} from '../backend/backend.js'
import {HybridizeError} from '../errors.js'
import type {TeacherConfig} from './config.js'
import {LLAMBA_FIELDS} from './config-fields.js'
import {readFields} from './config-validate.js'
import type {HybridConfig} from './hybrid-config.js'
import {discreteMamba2Fields, headlessHybrid, loadRenamedHybrid} from './headless-hybrid.js'
import type {HybridModel} from './hybrid.js'
import {readConfigJson} from './load.js'

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
  const f = readFields(raw, LLAMBA_FIELDS, {family: 'llamba', where})
  const num = (key: string) => f[key] as number
  if (f.lm_head_bias === true) throw new HybridizeError(`${where}: Llamba with lm_head_bias is not supported`, {code: 'E_CONFIG'})
  const hidden = num('d_model')
  const mixer = discreteMamba2Fields(f, 'ssm_cfg.', hidden, where)
  const multiple = num('pad_vocab_size_multiple')
  const vocab = Math.ceil(num('vocab_size') / multiple) * multiple
  const layers = num('n_layer')
  const {vHeads, headDim} = mixer
  const teacher: TeacherConfig = {
    family: 'llama',
    architecture: 'LlamaForCausalLM',
    vocabSize: vocab,
    hiddenSize: hidden,
    intermediateSize: num('mlp_cfg.intermediate_size'),
    numLayers: layers,
    numHeads: vHeads,
    numKvHeads: vHeads,
    headDim,
    normEps: num('norm_epsilon'),
    ropeTheta: 10000,
    rotaryDim: headDim - (headDim % 2),
    ropeScaling: {type: 'default'},
    maxPositions: 1 << 20,
    attentionBias: false,
    mlpBias: f['mlp_cfg.bias'] === true,
    tieWordEmbeddings: f.tie_embeddings === true,
    hiddenAct: 'silu',
  }
  return headlessHybrid(teacher, raw, mixer)
}

/** The Llamba name of a hybrid tensor. */
export function llambaName(name: string): string {
  if (name === 'model.embed_tokens.weight') return 'backbone.embedding.weight'
  if (name === 'model.norm.weight') return 'backbone.final_layernorm.weight'
  return name.replace(/^model\.layers\.(\d+)\.ssm\./, 'backbone.layers.$1.mixer.').replace(/^model\.layers\./, 'backbone.layers.')
}

export async function loadLlamba(folder: string, backend: Backend): Promise<HybridModel> {
  const config = llambaToHybridConfig(await readConfigJson(folder), join(folder, 'config.json'))
  return loadRenamedHybrid(folder, config, llambaName, 'Llamba', 'n_layer', backend)
}
