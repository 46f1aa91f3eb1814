import type {Backend} from '../backend/backend.js'
import type {Tensor} from '../engine/tensor.js'
import {FormatError, ShapeError} from '../errors.js'
import {openCheckpoint, type Checkpoint} from '../io/safetensors/checkpoint.js'
import {readWeight, resolveWeightDType, type WeightDType, type WeightDTypeChoice} from './weight-dtype.js'

/**
 * Check that `ckpt` holds every expected tensor with its expected shape, and no layer beyond the
 * config's count (a config that says fewer layers than the checkpoint has would run a truncated model).
 */
export function checkWeights(expected: ReadonlyMap<string, readonly number[]>, ckpt: Checkpoint, folder: string, architecture: string, layersField = 'num_hidden_layers'): void {
  for (const [name, shape] of expected) {
    if (!ckpt.has(name)) throw new FormatError(`${folder}: the checkpoint has no tensor ${name}, which the config (${architecture}) needs`)
    const actual = ckpt.info(name).shape
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new ShapeError(`${folder}: tensor ${name} has shape [${actual}], but config.json implies [${shape}]`)
    }
  }
  const configLayers = layerCount(expected.keys())
  const stored = layerCount(ckpt.names())
  if (stored > configLayers) {
    throw new ShapeError(`${folder}: the checkpoint holds ${stored} layers, but config.json's ${layersField} is ${configLayers}`)
  }
}

/** 1 + the highest `layers.<i>.` index among `names` (0 when none). */
function layerCount(names: Iterable<string>): number {
  let count = 0
  for (const name of names) {
    const m = /(?:^|\.)layers\.(\d+)\./.exec(name)
    if (m) count = Math.max(count, Number(m[1]) + 1)
  }
  return count
}

/** How the weight matrices are held (weight-dtype.ts); the dtype `auto` resolved to is passed to `onDType`. */
export interface WeightOptions {
  dtype?: WeightDTypeChoice
  onDType?: (dtype: WeightDType) => void
}

/**
 * Read the expected tensors into backend memory, each checked to be finite as it is read: f32
 * (BF16/F16 widened), or the matrices in the half dtype of `options.dtype` (default f32).
 */
export async function readWeights(ckpt: Checkpoint, expected: ReadonlyMap<string, readonly number[]>, backend: Backend, options: WeightOptions = {}): Promise<Map<string, Tensor>> {
  const dtype = resolveWeightDType(options.dtype ?? 'f32', ckpt, expected)
  options.onDType?.(dtype)
  const weights = new Map<string, Tensor>()
  try {
    for (const [name, shape] of expected) weights.set(name, await readWeight(ckpt, name, shape, dtype, backend))
  } catch (err) {
    // A failed load gives back the device memory of the tensors it had already placed.
    for (const t of weights.values()) t.dispose()
    throw err
  }
  return weights
}

/** Read the expected tensors of a model folder into backend memory (f32 unless `options.dtype` says otherwise). */
export async function loadWeights(folder: string, expected: ReadonlyMap<string, readonly number[]>, architecture: string, backend: Backend, layersField?: string, options: WeightOptions = {}): Promise<Map<string, Tensor>> {
  const ckpt = await openCheckpoint(folder)
  try {
    checkWeights(expected, ckpt, folder, architecture, layersField)
    return await readWeights(ckpt, expected, backend, options)
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
