import {join} from 'node:path'
import type {Backend} from '../backend/backend.js'
import {HybridizeError} from '../errors.js'
import type {TeacherConfig} from './config.js'
import {PHI_MAMBA_FIELDS} from './config-fields.js'
import {readFields} from './config-validate.js'
import type {HybridConfig} from './hybrid-config.js'
import {discreteMamba2Fields, headlessHybrid, loadRenamedHybrid} from './headless-hybrid.js'
import type {HybridModel} from './hybrid.js'
import {readConfigJson} from './load.js'

/**
 * Phi-Mamba, the MOHAWK student (Bick et al. 2024, arXiv 2408.10189; goombalab/phi-mamba): Phi's parallel block
 * (modules/phi_block.py: h + mixer(LN(h)) + MLP(LN(h)), LayerNorm eps 1e-5, the GELU MLP of 4 × d_model with
 * biases), every layer a discrete Mamba-2 mixer (modules/mixers/discrete_mamba2.py), then final LayerNorm and an
 * LM head with a bias (modules/backbone.py, modules/lm_head.py): a hybrid on a Phi skeleton keeping no heads.
 * config.json has no model_type; it is utils/config.py's nested Config. Tensor names:
 *   backbone.embedding.weight -> model.embed_tokens.weight;  backbone.layers.i.mixer.* -> model.layers.i.ssm.*
 *   backbone.layers.i.{input_layernorm, mlp.fc1, mlp.fc2}.* -> model.layers.i.*
 *   backbone.final_layernorm.* -> model.final_layernorm.*;  lm_head.{weight, bias} as they are
 * Only one block of discrete Mamba-2 layers is accepted (Block1); a hybrid with attention blocks is refused.
 */
type Json = Record<string, unknown>

export function isPhiMambaConfig(raw: Json): boolean {
  return raw.model_type === undefined && typeof raw.MixerModel === 'object' && typeof raw.LanguageModel === 'object'
}

export function phiMambaToHybridConfig(raw: Json, where = 'config.json'): HybridConfig {
  const f = readFields(raw, PHI_MAMBA_FIELDS, {family: 'phi-mamba', where})
  const num = (key: string) => f[key] as number
  const blocks = Object.keys(raw).filter((k) => k.startsWith('Block'))
  if (blocks.length !== 1 || blocks[0] !== 'Block1') throw new HybridizeError(`${where}: blocks ${blocks.join(', ')} are not supported (only one block, Block1, of discrete Mamba-2 layers)`, {code: 'E_CONFIG'})
  const layers = num('MixerModel.input.n_layer')
  if (num('Block1.n_layers') !== layers) throw new HybridizeError(`${where}: Block1.n_layers ${num('Block1.n_layers')} must equal MixerModel.input.n_layer ${layers}`, {code: 'E_CONFIG'})
  const hidden = num('MixerModel.input.d_model')
  const mixer = discreteMamba2Fields(f, 'Block1.core_input.', hidden, where)
  const {vHeads, headDim} = mixer
  const multiple = num('LanguageModel.input.pad_vocab_size_multiple')
  const teacher: TeacherConfig = {
    family: 'phi',
    architecture: 'PhiForCausalLM',
    vocabSize: Math.ceil(num('LanguageModel.input.vocab_size') / multiple) * multiple,
    hiddenSize: hidden,
    intermediateSize: 4 * hidden,
    numLayers: layers,
    // No attention runs; the heads only shape the (empty) attention of a hybrid keeping none.
    numHeads: vHeads,
    numKvHeads: vHeads,
    headDim,
    normEps: 1e-5,
    ropeTheta: 10000,
    rotaryDim: headDim - (headDim % 2),
    ropeScaling: {type: 'default'},
    maxPositions: 1 << 20,
    attentionBias: true,
    mlpBias: true,
    tieWordEmbeddings: false,
    hiddenAct: 'gelu_new',
  }
  return headlessHybrid(teacher, raw, mixer)
}

/** The Phi-Mamba name of a hybrid tensor. */
export function phiMambaName(name: string): string {
  if (name === 'model.embed_tokens.weight') return 'backbone.embedding.weight'
  return name.replace(/^model\.layers\.(\d+)\.ssm\./, 'backbone.layers.$1.mixer.').replace(/^model\./, 'backbone.')
}

export async function loadPhiMamba(folder: string, backend: Backend): Promise<HybridModel> {
  const config = phiMambaToHybridConfig(await readConfigJson(folder), join(folder, 'config.json'))
  return loadRenamedHybrid(folder, config, phiMambaName, 'Phi-Mamba', 'MixerModel.input.n_layer', backend)
}
