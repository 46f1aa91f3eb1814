import type {Backend} from '../backend/backend.js'
import {HybridizeError} from '../errors.js'
import type {TeacherConfig} from './config.js'
import type {HybridConfig} from './hybrid-config.js'
import {expectedHybridWeights} from './hybrid-weights.js'
import {HybridModel} from './hybrid.js'
import {loadWeights} from './load-weights.js'
import type {DiscreteMamba2Config} from './mixers/discrete-mamba2.js'

/**
 * What Llamba (cartesia-ai/edge) and Phi-Mamba (goombalab/phi-mamba) checkpoints share: every layer one discrete
 * Mamba-2 mixer configured by the same keys under one prefix (`ssm_cfg.`, `Block1.core_input.`), so a hybrid keeping
 * no attention head, its tensors stored under the other library's names.
 */

/** The discrete Mamba-2 mixer of `fields` under `prefix`, its head counts checked against the inner width. */
export function discreteMamba2Fields(fields: Record<string, unknown>, prefix: string, hidden: number, where: string): DiscreteMamba2Config {
  const num = (key: string) => fields[prefix + key] as number
  const vHeads = num('n_v_heads')
  const qkHeads = num('n_qk_heads')
  const inner = num('expand') * hidden
  const headDim = inner / vHeads
  if (!Number.isInteger(headDim)) {
    throw new HybridizeError(`${where}: ${prefix}n_v_heads ${vHeads} must divide the inner width ${inner} (${prefix}expand × the model width)`, {code: 'E_CONFIG'})
  }
  if (vHeads % qkHeads !== 0) throw new HybridizeError(`${where}: ${prefix}n_qk_heads ${qkHeads} must divide ${prefix}n_v_heads ${vHeads}`, {code: 'E_CONFIG'})
  return {
    kind: 'discrete-mamba2',
    hiddenSize: hidden,
    vHeads,
    qkHeads,
    headDim,
    stateDim: num('d_state'),
    convWidth: num('d_conv'),
    convBias: fields[prefix + 'conv_bias'] === true,
    bias: fields[prefix + 'bias'] === true,
    chunk: num('chunk_size'),
  }
}

/** A hybrid on `teacher`'s skeleton whose every layer is `mixer`, keeping no attention head. */
export function headlessHybrid(teacher: TeacherConfig, teacherJson: Record<string, unknown>, mixer: DiscreteMamba2Config): HybridConfig {
  return {teacher, teacherJson, mixer, adapterEps: 1e-5, layers: Array.from({length: teacher.numLayers}, () => ({attentionHeads: []}))}
}

/** The hybrid of `config` from a folder whose tensors are stored under `storedName(hybridize's name)`. */
export async function loadRenamedHybrid(
  folder: string, config: HybridConfig, storedName: (name: string) => string, format: string, layersField: string, backend: Backend,
): Promise<HybridModel> {
  const names = [...expectedHybridWeights(config)]
  const stored = await loadWeights(folder, new Map(names.map(([name, shape]) => [storedName(name), shape])), format, backend, layersField)
  return new HybridModel(config, new Map(names.map(([name]) => [name, stored.get(storedName(name))!])), backend)
}

