import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import type {Backend} from '../backend/backend.js'
import {FormatError, HybridizeError} from '../errors.js'
import type {Checkpoint} from '../io/safetensors/checkpoint.js'
import {parseTeacherConfig, type TeacherConfig} from './config.js'
import {checkWeights, loadWeights, type WeightOptions} from './load-weights.js'
import {TeacherModel} from './teacher.js'
import {expectedTeacherWeights} from './teacher-weights.js'

/** config.json (or another JSON file, such as MambaInLlama's mamba_config.json) of a model folder, parsed as JSON (not yet interpreted). */
export async function readConfigJson(folder: string, file = 'config.json'): Promise<Record<string, unknown>> {
  const path = join(folder, file)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HybridizeError(`${path} is missing: not a model folder`, {code: 'E_NO_CONFIG'})
    throw err
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new FormatError(`${path} is not valid JSON (${(err as Error).message})`)
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new FormatError(`${path} is not a JSON object`)
  return json as Record<string, unknown>
}

/** Check that the checkpoint holds every tensor the config implies, with the implied shapes. */
export function checkTeacherWeights(cfg: TeacherConfig, ckpt: Checkpoint, folder: string): Map<string, number[]> {
  const expected = expectedTeacherWeights(cfg)
  checkWeights(expected, ckpt, folder, cfg.architecture)
  return expected
}

/** A teacher's config and weights; its weight matrices in `options.dtype` (default f32). */
export async function loadTeacher(folder: string, backend: Backend, options: WeightOptions = {}): Promise<TeacherModel> {
  const config = parseTeacherConfig(await readConfigJson(folder), join(folder, 'config.json'))
  return new TeacherModel(config, await loadWeights(folder, expectedTeacherWeights(config), config.architecture, backend, undefined, options), backend)
}
