import type {Backend} from '../backend/backend.js'
import {createBackend, type DeviceChoice} from '../backend/device.js'
import {HybridizeError} from '../errors.js'
import {resolveModel} from '../hub/cache.js'
import {loadTokenizer, type TextTokenizer} from '../tokenizer/load.js'

/**
 * The lifecycle every model-running command and library function shares: resolve the model
 * reference, load its tokenizer, create the backend, say which device runs, destroy it at the end.
 */

/** `device`: a --device choice (a backend is created and destroyed here), or a backend the caller owns. */
export interface BackendChoice {
  device?: DeviceChoice | Backend
  /** Status lines (the CLI prints them on stderr). */
  status?: (text: string) => void
}

export async function withBackend<T>(choice: BackendChoice, run: (backend: Backend) => Promise<T>): Promise<T> {
  if (typeof choice.device === 'object') return run(choice.device)
  const backend = await createBackend(choice.device)
  choice.status?.(`device: ${backend.description}`)
  try {
    return await run(backend)
  } finally {
    backend.destroy()
  }
}

/**
 * The backends of devices 1 .. count − 1 for the replicas of `--devices N` (device 0 is withBackend's),
 * destroyed when `run` ends. Each is opened as `--device` opens one.
 */
export async function withPeerBackends<T>(choice: BackendChoice, count: number, run: (backends: Backend[]) => Promise<T>): Promise<T> {
  if (count > 1 && typeof choice.device === 'object') throw new HybridizeError('devices > 1 opens a backend per device: give device as auto, webgpu or cpu', {code: 'E_FLAG'})
  const backends: Backend[] = []
  try {
    for (let d = 1; d < count; d++) {
      const backend = await createBackend(typeof choice.device === 'string' ? choice.device : 'auto')
      backends.push(backend)
      choice.status?.(`device ${d}: ${backend.description}`)
    }
    return await run(backends)
  } finally {
    for (const b of backends) b.destroy()
  }
}

export interface OpenedModel {
  /** As the caller named it: a folder or org/name[@revision]. */
  name: string
  folder: string
  tokenizer: TextTokenizer
}

/** A model reference resolved to its folder (the HF cache's snapshot for a hub id), with its tokenizer. */
export async function openModel(name: string): Promise<OpenedModel> {
  const folder = await resolveModel(name)
  return {name, folder, tokenizer: await loadTokenizer(folder)}
}

/** openModel, then `run` on a backend that is destroyed when it returns or throws. */
export async function withModel<T>(name: string, choice: BackendChoice, run: (model: OpenedModel, backend: Backend) => Promise<T>): Promise<T> {
  const model = await openModel(name)
  return withBackend(choice, (backend) => run(model, backend))
}
