import {join} from 'node:path'
import type {Backend} from '../backend/backend.js'
import {HybridizeError} from '../errors.js'
import {HYBRID_MODEL_TYPE} from './hybrid-config.js'
import {loadHybrid, type HybridModel} from './hybrid.js'
import {loadLlamba} from './llamba.js'
import type {WeightOptions} from './load-weights.js'
import {isMambaInLlamaFolder, loadMambaInLlama} from './mamba-in-llama.js'
import {isMambaSsmConfig, loadMambaSsm} from './mamba-ssm.js'
import {loadTeacher, readConfigJson} from './load.js'
import {isPhiMambaConfig, loadPhiMamba} from './phi-mamba.js'
import {loadMamba2, type Mamba2Model} from './mamba2.js'
import type {TeacherModel} from './teacher.js'
import {refuseHalf} from './weight-dtype.js'

/**
 * Every model the engine runs: a teacher, a Hugging Face Mamba-2 (or mamba_ssm's MambaLMHeadModel of Mamba-2
 * layers, the same model), or a hybrid student (Llamba and Phi-Mamba are ones keeping no heads,
 * MambaInLlama one keeping all or none).
 */
export type LoadedModel = TeacherModel | Mamba2Model | HybridModel

export const LOADABLE_MODEL_TYPES = ['llama', 'phi', 'mamba2', 'llamba', HYBRID_MODEL_TYPE] as const

/**
 * Load the model of a folder, picking the class by config.json's model_type (mamba_ssm's and Phi-Mamba's configs have
 * none; a MambaInLlama folder is a Llama's with a mamba_config.json beside). Teachers hold their weight matrices in
 * `options.dtype`; the other models are f32 (a half dtype asked of them is an error).
 */
export async function loadModel(folder: string, backend: Backend, options: WeightOptions = {}): Promise<LoadedModel> {
  const raw = await readConfigJson(folder)
  const f32Only = (what: string): void => options.onDType?.(refuseHalf(options.dtype ?? 'f32', what))
  if (isMambaSsmConfig(raw)) { f32Only('a mamba_ssm model'); return loadMambaSsm(folder, backend) }
  if (await isMambaInLlamaFolder(folder, raw)) { f32Only('a MambaInLlama model'); return loadMambaInLlama(folder, backend) }
  if (isPhiMambaConfig(raw)) { f32Only('a Phi-Mamba model'); return loadPhiMamba(folder, backend) }
  const modelType = raw.model_type
  switch (modelType) {
    case 'mamba2': f32Only('a Mamba-2 model'); return loadMamba2(folder, backend)
    case HYBRID_MODEL_TYPE: f32Only('a hybrid'); return loadHybrid(folder, backend)
    case 'llamba': f32Only('a Llamba model'); return loadLlamba(folder, backend)
    case 'llama': case 'phi': return loadTeacher(folder, backend, options)
    default:
      if (typeof modelType !== 'string') throw new HybridizeError(`${join(folder, 'config.json')} has no model_type; supported: ${LOADABLE_MODEL_TYPES.join(', ')}, or the configs of mamba_ssm's MambaLMHeadModel and Phi-Mamba`, {code: 'E_CONFIG'})
      throw new HybridizeError(`${join(folder, 'config.json')}: model_type '${String(modelType)}' is not supported; supported: ${LOADABLE_MODEL_TYPES.join(', ')}`, {code: 'E_ARCH'})
  }
}
