import {resolve} from 'node:path'
import {fromArray, scopeAsync} from '../../src/engine/tensor.js'
import {openCheckpoint} from '../../src/io/safetensors/checkpoint.js'
import {loadModel} from '../../src/models/load-model.js'
import {cpuBackend} from './backends.js'
import {relativeError} from './compare.js'

/**
 * A reference folder made by scripts/make-format-references.py (a checkpoint in another library's layout and its
 * reference.safetensors: input_ids and the logits its own equations gave), loaded by hybridize on the CPU: the
 * relative error of hybridize's logits against those.
 */
export async function referenceLogitsError(folder: string): Promise<number> {
  const cpu = cpuBackend()
  const ref = await openCheckpoint(resolve(folder, 'reference.safetensors'))
  try {
    const ids = (await ref.read('input_ids')).data as Int32Array
    const model = await loadModel(folder, cpu)
    const logits = await scopeAsync(async () => model.forward(fromArray(cpu, ids, ref.shape('input_ids'))).logits.toFloat32())
    return relativeError(logits, await ref.readF32('logits'))
  } finally {
    await ref.close()
  }
}
