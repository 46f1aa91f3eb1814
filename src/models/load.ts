import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import type {Backend} from '../backend/backend.js'
import {fromArray, type Tensor} from '../engine/tensor.js'
import {FormatError, HybridizeError, ShapeError} from '../errors.js'
import {openCheckpoint, type Checkpoint} from '../io/safetensors/checkpoint.js'
import {parseTeacherConfig, type TeacherConfig} from './config.js'
import {TeacherModel} from './teacher.js'
import {expectedTeacherWeights} from './teacher-weights.js'

/** config.json of a model folder, parsed as JSON (not yet interpreted). */
export async function readConfigJson(folder: string): Promise<Record<string, unknown>> {
  const path = join(folder, 'config.json')
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HybridizeError(`${path} is missing: not a model folder`, {code: 'E_NO_CONFIG'})
    throw err
  }
  try {
    const json = JSON.parse(text) as unknown
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error('not an object')
    return json as Record<string, unknown>
  } catch {
    throw new FormatError(`${path} is not a JSON object`)
  }
}

/** Check that the checkpoint holds every tensor the config implies, with the implied shapes. */
export function checkTeacherWeights(cfg: TeacherConfig, ckpt: Checkpoint, folder: string): Map<string, number[]> {
  const expected = expectedTeacherWeights(cfg)
  for (const [name, shape] of expected) {
    if (!ckpt.has(name)) throw new FormatError(`${folder}: the checkpoint has no tensor ${name}, which the config (${cfg.architecture}) needs`)
    const actual = ckpt.info(name).shape
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new ShapeError(`${folder}: tensor ${name} has shape [${actual}], but config.json implies [${shape}]`)
    }
  }
  return expected
}

export async function loadTeacher(folder: string, backend: Backend): Promise<TeacherModel> {
  const config = parseTeacherConfig(await readConfigJson(folder), join(folder, 'config.json'))
  const ckpt = await openCheckpoint(folder)
  try {
    const expected = checkTeacherWeights(config, ckpt, folder)
    const weights = new Map<string, Tensor>()
    for (const [name, shape] of expected) weights.set(name, fromArray(backend, await ckpt.readF32(name), shape))
    return new TeacherModel(config, weights, backend)
  } finally {
    await ckpt.close()
  }
}
