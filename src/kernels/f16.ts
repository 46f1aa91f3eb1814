import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * Half precision as storage: n f16 values packed two to a 32-bit word (element 2i in the low
 * half, as WGSL's pack2x16float and an array<f16> binding both lay them out), held in an i32
 * storage of ceil(n / 2) words.
 */
export const packedWords = (n: number): number => Math.ceil(n / 2)

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** The binary16 bits of x, rounded to nearest even (overflow to ±inf, NaN kept quiet). */
export function f16Bits(x: number): number {
  f32[0] = x
  const bits = u32[0]
  const sign = (bits >>> 16) & 0x8000
  const exp = (bits >>> 23) & 0xff
  const mant = bits & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0)
  const e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00
  if (e <= 0) {
    // Subnormal (or zero): shift the implicit-one mantissa right and round.
    if (e < -10) return sign
    const full = mant | 0x800000
    const shift = 14 - e
    const half = full >>> shift
    const rest = full & ((1 << shift) - 1)
    const mid = 1 << (shift - 1)
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0))
  }
  const half = (e << 10) | (mant >>> 13)
  const rest = mant & 0x1fff
  // A carry out of the mantissa correctly bumps the exponent (up to inf).
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0))
}

/** The value of binary16 bits. */
export function f16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exp = (bits >>> 10) & 0x1f
  const mant = bits & 0x3ff
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 0x1f) return mant ? NaN : sign * Infinity
  return sign * (1 + mant / 1024) * 2 ** (exp - 15)
}

/** Pack f32 values into f16 words (host side). */
export function packF16(values: ArrayLike<number>): Int32Array {
  const out = new Int32Array(packedWords(values.length))
  for (let i = 0; i < values.length; i++) out[i >> 1] |= f16Bits(values[i]) << (16 * (i & 1))
  return out
}

/** Element i of packed f16 words. */
export const unpackF16 = (words: ArrayLike<number>, i: number): number => f16Value((words[i >> 1] >>> (16 * (i & 1))) & 0xffff)

/**
 * Halves as the CPU backend holds them: packed in words (an i32 tensor), or one pattern a value (a
 * tensor of storage dtype f16, ops.ts's weight copies); the GPU's bytes are the same either way.
 */
export const halfAt = (store: ArrayLike<number>, i: number): number => (store instanceof Uint16Array ? f16Value(store[i]) : unpackF16(store, i))

/** Write packed f16 words into `out`: an i32 tensor's words, or an f16 tensor's patterns. */
export function storePacked(words: Int32Array, out: Int32Array | Uint16Array | Float32Array): void {
  if (out instanceof Uint16Array) out.set(new Uint16Array(words.buffer, words.byteOffset, out.length))
  else out.set(words)
}

export interface CastF16Params {
  /** Values (not words). */
  n: number
}

const uniforms = (p: CastF16Params): UniformFields => [['count', packedWords(p.n)], ['n', p.n]]

/** x [n] f32 -> packed f16 words [ceil(n / 2)] (i32 storage). Rounding on the GPU is the driver's (nearest on NVIDIA). */
export const castF16: Kernel<CastF16Params> = {
  name: 'cast_f16',
  cpu: (p, [x], [out]) => out.set(packF16(x.subarray(0, p.n))),
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(
        bindings(['x: array<f32>'], ['out: array<u32>'], uniforms(p)),
        `  let hi = select(0.0, x[min(2u * i + 1u, u.n - 1u)], 2u * i + 1u < u.n);
  out[i] = pack2x16float(vec2f(x[2u * i], hi));`,
      ),
    dispatch: (p) => flatDispatch(packedWords(p.n), uniforms(p)),
  },
}
