import type {HalfDType} from './kernel.js'
import {f16Value} from './f16.js'

/**
 * Half-precision weights read by kernels: the value of one stored 16-bit pattern on the CPU, and
 * the WGSL that reads element `i` of a half array bound as `array<u32>` (two values a word). WGSL
 * has no bf16 and f16 only with the shader-f16 feature, so both unpack from u32 words, which needs
 * no extension: bf16 is the high half of an f32 (`bitcast<f32>(bits << 16)`), f16 goes through
 * `unpack2x16float`. Accumulation stays f32.
 */

const word = new Uint32Array(1)
const asF32 = new Float32Array(word.buffer)

/** The value of bf16 bits: the top 16 bits of an f32. */
export function bf16Value(bits: number): number {
  word[0] = bits << 16
  return asF32[0]
}

/** The function that turns one stored pattern of `dtype` into its value. */
export const halfValue = (dtype: HalfDType): ((bits: number) => number) => (dtype === 'bf16' ? bf16Value : f16Value)

/** Half-precision `bits` widened to f32 values, into `out` when given. */
export function widenHalf(dtype: HalfDType, bits: Uint16Array, out: Float32Array = new Float32Array(bits.length)): Float32Array {
  if (dtype === 'bf16') {
    const words = new Uint32Array(out.buffer, out.byteOffset, bits.length)
    for (let i = 0; i < bits.length; i++) words[i] = bits[i] << 16
  } else {
    for (let i = 0; i < bits.length; i++) out[i] = f16Value(bits[i])
  }
  return out
}

/** A WGSL function `name(i: u32) -> f32` reading element i of `array` (an `array<u32>` of packed halves). */
export function wgslHalfLoad(name: string, array: string, dtype: HalfDType): string {
  const body =
    dtype === 'bf16'
      ? `return bitcast<f32>(((${array}[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu) << 16u);`
      : `return unpack2x16float(${array}[i >> 1u])[i & 1u];`
  return `fn ${name}(i: u32) -> f32 { ${body} }`
}

/** A WGSL function `name(v: vec2u) -> vec4f` widening four packed halves (element 0 in the low half of v.x). */
export function wgslHalfWiden4(name: string, dtype: HalfDType): string {
  const body =
    dtype === 'bf16'
      ? 'return vec4f(bitcast<f32>(v.x << 16u), bitcast<f32>(v.x & 0xffff0000u), bitcast<f32>(v.y << 16u), bitcast<f32>(v.y & 0xffff0000u));'
      : 'return vec4f(unpack2x16float(v.x), unpack2x16float(v.y));'
  return `fn ${name}(v: vec2u) -> vec4f { ${body} }`
}

/** Bytes a tensor of `numel` values of `dtype` takes in memory. */
export const bytesPerValue = (dtype: string): number => (dtype === 'bf16' || dtype === 'f16' ? 2 : 4)
