import type {Tensor} from '../engine/tensor.js'
import type {Checkpoint} from '../io/safetensors/checkpoint.js'
import type {HostArray} from '../kernels/kernel.js'
import {FormatError, HybridizeError} from '../errors.js'

/**
 * Non-finite numbers are errors, never results: a weight that is NaN or ±Inf is reported when it
 * is loaded (naming the tensor), and logits that are not finite are never printed or written.
 */

/** Index of the first NaN or ±Inf in `data`, or -1: one pass over the f32 bit patterns (exponent all ones). */
export function firstNonFinite(data: Float32Array): number {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length)
  for (let i = 0; i < bits.length; i++) if ((bits[i] & 0x7f800000) === 0x7f800000) return i
  return -1
}

function corrupt(file: string, name: string, value: number, index: number, more = 0): FormatError {
  const others = more > 0 ? ` (and ${more} more non-finite values)` : ''
  return new FormatError(`${file}: tensor ${name} holds ${value} at element ${index}${others}; the checkpoint is corrupt`)
}

/**
 * A weight as f32 values, a NaN or ±Inf a FormatError naming it. Half-precision tensors were looked at
 * while widening (`readF32Scanned`), so only a stored f32 (or one found non-finite, to name the value) is
 * scanned here.
 */
export async function readFiniteF32(ckpt: Pick<Checkpoint, 'path' | 'readF32Scanned'>, name: string): Promise<Float32Array> {
  const {data, allFinite} = await ckpt.readF32Scanned(name)
  if (allFinite !== true) checkFiniteWeight(data, name, ckpt.path)
  return data
}

/** Whether 16-bit float patterns hold no NaN or ±Inf (an exponent of all ones), in one branch-free pass. */
export function halfBitsFinite(bits: Uint16Array, dtype: 'F16' | 'BF16'): boolean {
  const {exponent} = HALF_BITS[dtype]
  const carry = exponent & -exponent // its lowest bit: an exponent of all ones plus this carries into bit 15
  let special = 0
  for (let i = 0; i < bits.length; i++) special |= ((bits[i] & exponent) + carry) & 0x8000
  return special === 0
}

/** A FormatError naming the tensor if `data` holds a NaN or an infinity. */
export function checkFiniteWeight(data: Float32Array, name: string, file: string): void {
  const i = firstNonFinite(data)
  if (i < 0) return
  let more = 0
  for (let j = i + 1; j < data.length; j++) if (!Number.isFinite(data[j])) more++
  throw corrupt(file, name, data[i], i, more)
}

/** Exponent bits that mark NaN and ±Inf in each 16-bit float format, and its mantissa bits. */
const HALF_BITS = {F16: {exponent: 0x7c00, mantissa: 0x03ff}, BF16: {exponent: 0x7f80, mantissa: 0x007f}} as const

/**
 * `checkFiniteWeight` over stored bytes that are copied as they are (no widening): F32 and F64 by
 * value, F16 and BF16 by their exponent bits. Integer dtypes are always finite.
 */
export function checkFiniteStored(bytes: Uint8Array, dtype: string, name: string, file: string): void {
  if (dtype === 'F32') return checkFiniteWeight(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), name, file)
  if (dtype === 'F64') {
    const values = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8)
    const i = values.findIndex((v) => !Number.isFinite(v))
    if (i >= 0) throw corrupt(file, name, values[i], i)
    return
  }
  if (dtype !== 'F16' && dtype !== 'BF16') return
  const half = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2)
  if (halfBitsFinite(half, dtype)) return
  // Only a corrupt tensor is scanned again, to name its first value.
  const {exponent, mantissa} = HALF_BITS[dtype]
  for (let i = 0; i < half.length; i++) {
    if ((half[i] & exponent) === exponent) throw corrupt(file, name, half[i] & mantissa ? NaN : half[i] & 0x8000 ? -Infinity : Infinity, i)
  }
}

/**
 * A HybridizeError if `logits` (rows of `vocab`) hold a NaN or an infinity: finite weights can
 * still overflow float32 (huge values, or a config that does not fit them).
 */
export function checkFiniteLogits(logits: Float32Array, vocab: number, what = 'the model'): void {
  const i = firstNonFinite(logits)
  if (i < 0) return
  throw nonFiniteLogitsError(what, ` (${logits[i]} in row ${Math.floor(i / vocab)}, token ${i % vocab})`)
}

/** The error for logits that are not finite; `where` says which value, when the caller read it. */
export function nonFiniteLogitsError(what = 'the model', where = ''): HybridizeError {
  return new HybridizeError(`${what} produced a non-finite logit${where}: its weights overflow float32 or do not fit its config`, {code: 'E_NON_FINITE'})
}

/**
 * `checkFiniteLogits` for scores picked on the device from `rows` (logits or log-probs, [R, V]) without reading
 * them back: the picked values must be finite and no row's argmax -1 (engine/decode-ops.ts `argmaxRows`' mark of a
 * NaN or an infinity). Only when one is not are the rows read, to name the value.
 */
export async function checkFinitePicked(values: Float32Array, argmax: HostArray, rows: Tensor, what = 'the model'): Promise<void> {
  if (!argmax.includes(-1) && values.every(Number.isFinite)) return
  checkFiniteLogits(await rows.toFloat32(), rows.shape.at(-1)!, what)
  throw nonFiniteLogitsError(what)
}
