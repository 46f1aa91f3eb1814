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

function countNonFinite(data: Float32Array, from: number): number {
  let n = 0
  for (let i = from; i < data.length; i++) if (!Number.isFinite(data[i])) n++
  return n
}

/** A FormatError naming the tensor if `data` holds a NaN or an infinity. */
export function checkFiniteWeight(data: Float32Array, name: string, file: string): void {
  const i = firstNonFinite(data)
  if (i < 0) return
  const more = countNonFinite(data, i + 1)
  throw new FormatError(`${file}: tensor ${name} holds ${data[i]} at element ${i}${more > 0 ? ` (and ${more} more non-finite values)` : ''}; the checkpoint is corrupt`)
}

/**
 * A HybridizeError if `logits` (rows of `vocab`) hold a NaN or an infinity: finite weights can
 * still overflow float32 (huge values, or a config that does not fit them).
 */
export function checkFiniteLogits(logits: Float32Array, vocab: number, what = 'the model'): void {
  const i = firstNonFinite(logits)
  if (i < 0) return
  throw new HybridizeError(
    `${what} produced a non-finite logit (${logits[i]} in row ${Math.floor(i / vocab)}, token ${i % vocab}): its weights overflow float32 or do not fit its config`,
    {code: 'E_NON_FINITE'},
  )
}
