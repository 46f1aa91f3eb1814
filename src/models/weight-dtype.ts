import type {Backend} from '../backend/backend.js'
import {empty, fromArray, type Tensor} from '../engine/tensor.js'
import {HybridizeError} from '../errors.js'
import type {Checkpoint} from '../io/safetensors/checkpoint.js'
import {f16Bits} from '../kernels/f16.js'
import type {HalfDType} from '../kernels/kernel.js'
import {widenHalf} from '../kernels/widen-half.js'
import {checkFiniteStored, halfBitsFinite, readFiniteF32} from './finite.js'

/**
 * `--dtype auto|f32|f16|bf16`: the precision the weight matrices are held in. Only matrices (rank 2:
 * the linear layers' weights, the embedding and the LM head) take a half dtype, as they are what
 * the memory is; norms and biases stay f32. Compute is f32 either way (half values widened as read).
 */
export const WEIGHT_DTYPES = ['auto', 'f32', 'f16', 'bf16'] as const
export type WeightDTypeChoice = (typeof WEIGHT_DTYPES)[number]
export type WeightDType = Exclude<WeightDTypeChoice, 'auto'>

/** Whether a tensor of this shape is held in the half dtype when one is chosen. */
export const isHalfCandidate = (shape: readonly number[]): boolean => shape.length === 2

const SAFETENSORS_DTYPE = {bf16: 'BF16', f16: 'F16'} as const

/**
 * The dtype `auto` means for a checkpoint: its own when every matrix is stored BF16 (or every one
 * F16), which both backends compute with (the half values unpacked to f32 as read); else f32.
 */
export function resolveWeightDType(choice: WeightDTypeChoice, ckpt: Checkpoint, expected: ReadonlyMap<string, readonly number[]>): WeightDType {
  if (choice !== 'auto') return choice
  const stored = new Set([...expected].filter(([, shape]) => isHalfCandidate(shape)).map(([name]) => ckpt.info(name).dtype))
  if (stored.size !== 1) return 'f32'
  const [only] = stored
  return only === 'BF16' ? 'bf16' : only === 'F16' ? 'f16' : 'f32'
}

/**
 * One weight in backend memory, checked finite: as f32, or in `dtype` when it is a matrix (copied as
 * stored when the checkpoint holds that dtype, else rounded to nearest even from f32).
 */
export async function readWeight(ckpt: Checkpoint, name: string, shape: readonly number[], dtype: WeightDType, backend: Backend): Promise<Tensor> {
  if (dtype === 'f32' || !isHalfCandidate(shape)) {
    const stored = ckpt.info(name).dtype
    if (backend.name === 'webgpu' && (stored === 'BF16' || stored === 'F16')) return widenedOnDevice(ckpt, name, shape, stored, backend)
    return fromArray(backend, await readFiniteF32(ckpt, name), shape)
  }
  if (ckpt.info(name).dtype === SAFETENSORS_DTYPE[dtype]) {
    const bytes = await ckpt.readBytes(name)
    checkFiniteStored(bytes, SAFETENSORS_DTYPE[dtype], name, ckpt.path)
    return fromArray(backend, new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2), shape, dtype)
  }
  const bits = roundToHalf(await readFiniteF32(ckpt, name), dtype)
  // f32 values beyond f16's range (65504) round to infinity: an error, not a silently wrong model.
  checkFiniteStored(new Uint8Array(bits.buffer), SAFETENSORS_DTYPE[dtype], name, ckpt.path)
  return fromArray(backend, bits, shape, dtype)
}

/**
 * A half-precision tensor wanted as f32 on a GPU: uploaded as stored and widened there (exactly, by
 * widen_half), so the host neither widens it nor sends 4 bytes a value: a 1B teacher's load sends
 * 2.5 GB instead of 5, and its seconds of widening in JavaScript are gone.
 */
async function widenedOnDevice(ckpt: Checkpoint, name: string, shape: readonly number[], stored: 'BF16' | 'F16', backend: Backend): Promise<Tensor> {
  const bytes = await ckpt.readBytes(name)
  const bits = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2)
  // A corrupt tensor gets the host path's error (its value, where, and how many more), the same on every backend.
  if (!halfBitsFinite(bits, stored)) return fromArray(backend, await readFiniteF32(ckpt, name), shape)
  const half = stored === 'BF16' ? 'bf16' : 'f16'
  const packed = fromArray(backend, bits, shape, half)
  const wide = empty(backend, shape)
  backend.run(widenHalf, {n: wide.numel, dtype: half}, [packed.storage], [wide.storage])
  packed.dispose()
  return wide
}

/** f32 values rounded to nearest even in a half dtype, as 16-bit patterns. */
export function roundToHalf(values: Float32Array, dtype: HalfDType): Uint16Array {
  const bits = new Uint16Array(values.length)
  if (dtype === 'f16') {
    for (let i = 0; i < values.length; i++) bits[i] = f16Bits(values[i])
    return bits
  }
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length)
  for (let i = 0; i < words.length; i++) {
    const w = words[i]
    bits[i] = (w + 0x7fff + ((w >>> 16) & 1)) >>> 16
  }
  return bits
}

/** A HybridizeError for a half dtype asked of a model whose weights are not all read as matrices by matmul or embedding. */
export function refuseHalf(dtype: WeightDTypeChoice, what: string): WeightDType {
  if (dtype === 'auto' || dtype === 'f32') return 'f32'
  throw new HybridizeError(`--dtype ${dtype}: ${what} runs in f32 only (half-precision weights are for teachers: Llama, Phi)`, {code: 'E_USAGE'})
}

/** Bytes the expected weights take in backend memory when loaded as `dtype` (matrices at 2 bytes, the rest at 4). */
export function loadedWeightBytes(expected: ReadonlyMap<string, readonly number[]>, dtype: WeightDType): number {
  let bytes = 0
  for (const shape of expected.values()) bytes += shape.reduce((a, b) => a * b, 1) * (dtype !== 'f32' && isHalfCandidate(shape) ? 2 : 4)
  return bytes
}
