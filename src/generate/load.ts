import type {Backend} from '../backend/backend.js'
import type {DecodingModel} from '../models/decoding-model.js'
import {loadTeacher} from '../models/load.js'

/** A model folder as a model that decodes incrementally; `release` frees its weights. */
export async function loadDecodingModel(folder: string, backend: Backend): Promise<{model: DecodingModel; release: () => void}> {
  const teacher = await loadTeacher(folder, backend)
  return {model: teacher, release: () => {
    for (const w of teacher.weights.values()) w.dispose()
  }}
}
