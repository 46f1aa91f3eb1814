/**
 * The safetensors dtypes hybridize reads and writes, their sizes, and the conversions between
 * stored bytes and JS typed arrays. All stored data is little-endian (as is every host Node runs on).
 *
 * What `decode` gives back per dtype (and what the writer accepts, besides raw bytes):
 *   F32, F16, BF16  -> Float32Array (F16/BF16 widened exactly)
 *   F64             -> Float64Array
 *   I64, U64, I32   -> Int32Array (I64/U64 only when every value fits in int32, else FormatError)
 *   U32 -> Uint32Array, I16 -> Int16Array, U16 -> Uint16Array, I8 -> Int8Array
 *   U8, BOOL        -> Uint8Array (BOOL as 0/1 bytes)
 */

export const DTYPES = ['BOOL', 'U8', 'I8', 'I16', 'U16', 'I32', 'U32', 'I64', 'U64', 'F16', 'BF16', 'F32', 'F64'] as const
export type Dtype = (typeof DTYPES)[number]

export type TensorArray =
  | Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array

const SIZES: Record<Dtype, number> = {
  BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, I32: 4, U32: 4, I64: 8, U64: 8, F16: 2, BF16: 2, F32: 4, F64: 8,
}

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.hasOwn(SIZES, value)
}

export function bytesPerElement(dtype: Dtype): number {
  return SIZES[dtype]
}

export function isFloatDtype(dtype: Dtype): boolean {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F64'
}

/** The typed array `decode` returns for `dtype`, which is also the one the writer takes. */
export function arrayTypeFor(dtype: Dtype): new (length: number) => TensorArray {
  switch (dtype) {
    case 'F32': case 'F16': case 'BF16': return Float32Array
    case 'F64': return Float64Array
    case 'I64': case 'U64': case 'I32': return Int32Array
    case 'U32': return Uint32Array
    case 'I16': return Int16Array
    case 'U16': return Uint16Array
    case 'I8': return Int8Array
    case 'U8': case 'BOOL': return Uint8Array
  }
}

// ---------------------------------------------------------------------------------------------
// 16-bit floats. Node 20 has no Float16Array, so both formats are converted on the bit level.

let halfTable: Uint32Array | undefined

/** f32 bit pattern of every f16 bit pattern (256 KiB, built on first use). */
function halfToFloatBits(): Uint32Array {
  if (halfTable) return halfTable
  const table = new Uint32Array(65536)
  const f32 = new Float32Array(1)
  const u32 = new Uint32Array(f32.buffer)
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16
    const exp = (h >> 10) & 0x1f
    const mant = h & 0x3ff
    if (exp === 31) table[h] = sign | 0x7f800000 | (mant << 13) // inf, NaN (payload kept)
    else if (exp !== 0) table[h] = sign | ((exp + 112) << 23) | (mant << 13)
    else {
      f32[0] = mant * 2 ** -24 // subnormal (or zero): exact in f32
      table[h] = (sign | u32[0]) >>> 0
    }
  }
  halfTable = table
  return table
}

/**
 * Widen f16 bits into f32 bits. `src` may be the upper half of `out`'s bytes (in-place widening).
 * Returns whether every value is finite, seen in the same pass so that a loader need not scan the
 * widened values again (a second pass over a 1B teacher's 5 GB of f32 cost as much as the widening):
 * an exponent of all ones carries into bit 15, OR-ed without a branch.
 */
export function f16BitsToF32Bits(src: Uint16Array, out: Uint32Array): boolean {
  const table = halfToFloatBits()
  let special = 0
  for (let i = 0; i < src.length; i++) {
    const h = src[i]
    out[i] = table[h]
    special |= ((h & 0x7c00) + 0x0400) & 0x8000
  }
  return special === 0
}

/** Widen bf16 bits into f32 bits (exact: bf16 is the top half of an f32); same in-place rule and result. */
export function bf16BitsToF32Bits(src: Uint16Array, out: Uint32Array): boolean {
  let special = 0
  for (let i = 0; i < src.length; i++) {
    const b = src[i]
    out[i] = b << 16
    special |= ((b & 0x7f80) + 0x0080) & 0x8000
  }
  return special === 0
}

/** f32 bits -> bf16 bits, round to nearest even; NaN stays a (quiet) NaN. */
export function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16
}

/** f32 bits -> f16 bits, round to nearest even, overflow to inf, subnormals kept; NaN stays NaN. */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  const mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0)
  const halfExp = exp - 112
  if (halfExp >= 31) return sign | 0x7c00
  if (halfExp >= 1) {
    const r = (halfExp << 10) | (mant >>> 13)
    const rest = mant & 0x1fff
    // A carry out of the mantissa bumps the exponent, up to inf: still the right encoding.
    return sign | (rest > 0x1000 || (rest === 0x1000 && (r & 1)) ? r + 1 : r)
  }
  // The result is an f16 subnormal: value = m * 2^-24 with m = (1.mant) * 2^(exp-126).
  const shift = 126 - exp
  if (shift > 24) return sign
  const full = 0x800000 | mant
  const r = full >>> shift
  const rest = full & ((1 << shift) - 1)
  const half = 1 << (shift - 1)
  return sign | (rest > half || (rest === half && (r & 1)) ? r + 1 : r)
}

// ---------------------------------------------------------------------------------------------
// Decoding stored bytes.

/** An I64/U64 value that does not fit in int32 (or a negative one bound for U64); callers name the tensor. */
export class IntRangeError extends Error {
  constructor(readonly index: number, readonly value: bigint, target: string) {
    super(`element ${index} (${value}) is out of range for ${target}`)
  }
}

/**
 * Stored bytes -> the typed array listed at the top of this file. `bytes` must start on an
 * 8-byte boundary of its buffer (a fresh allocation does); same-width dtypes are returned as
 * views over `bytes`, not copies.
 */
export function decode(dtype: Dtype, bytes: Uint8Array): TensorArray {
  const n = bytes.byteLength / SIZES[dtype]
  const {buffer, byteOffset} = bytes
  switch (dtype) {
    case 'F32': return new Float32Array(buffer, byteOffset, n)
    case 'F64': return new Float64Array(buffer, byteOffset, n)
    case 'I32': return new Int32Array(buffer, byteOffset, n)
    case 'U32': return new Uint32Array(buffer, byteOffset, n)
    case 'I16': return new Int16Array(buffer, byteOffset, n)
    case 'U16': return new Uint16Array(buffer, byteOffset, n)
    case 'I8': return new Int8Array(buffer, byteOffset, n)
    case 'U8': case 'BOOL': return bytes
    case 'F16': case 'BF16': {
      const out = new Float32Array(n)
      const widen = dtype === 'F16' ? f16BitsToF32Bits : bf16BitsToF32Bits
      widen(new Uint16Array(buffer, byteOffset, n), new Uint32Array(out.buffer))
      return out
    }
    case 'I64': case 'U64': return narrow64(new Int32Array(buffer, byteOffset, 2 * n), dtype === 'U64')
  }
}

function narrow64(words: Int32Array, unsigned: boolean): Int32Array {
  const out = new Int32Array(words.length / 2)
  for (let i = 0; i < out.length; i++) {
    const lo = words[2 * i]
    const hi = words[2 * i + 1]
    // Fits in int32 exactly when the high word is the sign extension of the low one.
    if (hi !== lo >> 31 || (unsigned && lo < 0)) {
      const value = (BigInt(unsigned ? hi >>> 0 : hi) << 32n) | BigInt(lo >>> 0)
      throw new IntRangeError(i, value, 'int32')
    }
    out[i] = lo
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Encoding for the writer.

const CHUNK_ELEMENTS = 1 << 20

/**
 * `data` -> stored bytes, as chunks so that a narrowed or widened tensor never needs a second
 * full copy. `data` is either raw stored bytes (any Uint8Array) or of type `arrayTypeFor(dtype)`;
 * the caller has checked which, and the length.
 */
export function* encode(dtype: Dtype, data: TensorArray): Generator<Uint8Array> {
  const size = SIZES[dtype]
  if (data instanceof Uint8Array || data.BYTES_PER_ELEMENT === size) {
    yield new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    return
  }
  for (let start = 0; start < data.length; start += CHUNK_ELEMENTS) {
    const end = Math.min(data.length, start + CHUNK_ELEMENTS)
    const out = new Uint8Array((end - start) * size)
    if (dtype === 'F16' || dtype === 'BF16') {
      const bits = new Uint32Array(data.buffer, data.byteOffset + start * 4, end - start)
      const half = new Uint16Array(out.buffer)
      const narrow = dtype === 'F16' ? f32BitsToF16Bits : f32BitsToBf16Bits
      for (let i = 0; i < half.length; i++) half[i] = narrow(bits[i])
    } else {
      // I64/U64 from Int32Array: sign-extend into (lo, hi) word pairs.
      const words = new Int32Array(out.buffer)
      for (let i = start; i < end; i++) {
        if (dtype === 'U64' && data[i] < 0) throw new IntRangeError(i, BigInt(data[i]), 'U64')
        words[2 * (i - start)] = data[i]
        words[2 * (i - start) + 1] = data[i] >> 31
      }
    }
    yield out
  }
}
