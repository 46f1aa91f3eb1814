import type {Backend} from '../backend/backend.js'
import {fromArray, type Tensor} from '../engine/tensor.js'
import {FormatError, ShapeError} from '../errors.js'
import {openCheckpoint, type Checkpoint} from '../io/safetensors/checkpoint.js'

/** Check that `ckpt` holds every expected tensor with its expected shape. */
export function checkWeights(expected: ReadonlyMap<string, readonly number[]>, ckpt: Checkpoint, folder: string, architecture: string): void {
  for (const [name, shape] of expected) {
    if (!ckpt.has(name)) throw new FormatError(`${folder}: the checkpoint has no tensor ${name}, which the config (${architecture}) needs`)
    const actual = ckpt.info(name).shape
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new ShapeError(`${folder}: tensor ${name} has shape [${actual}], but config.json implies [${shape}]`)
    }
  }
}

/** Read the expected tensors of a model folder into backend memory (BF16/F16 widened to f32). */
export async function loadWeights(folder: string, expected: ReadonlyMap<string, readonly number[]>, architecture: string, backend: Backend): Promise<Map<string, Tensor>> {
  const ckpt = await openCheckpoint(folder)
  try {
    checkWeights(expected, ckpt, folder, architecture)
    const weights = new Map<string, Tensor>()
    for (const [name, shape] of expected) weights.set(name, fromArray(backend, await ckpt.readF32(name), shape))
    return weights
  } finally {
    await ckpt.close()
  }
}

/** The weights under `prefix`, named without it (`backbone.layers.3.mixer.D` -> `D`). */
export function localWeights(weights: ReadonlyMap<string, Tensor>, prefix: string): Map<string, Tensor> {
  const local = new Map<string, Tensor>()
  for (const [name, t] of weights) if (name.startsWith(prefix)) local.set(name.slice(prefix.length), t)
  return local
}
