/**
 * A kernel is one computation with two implementations that take the same arguments:
 * `cpu`, the readable reference every fast path is checked against, and `gpu`, a WGSL program.
 *
 * Binding convention for the WGSL side (fixed, so kernels never declare it differently):
 *   @group(0) @binding(0 .. n-1)      inputs,  var<storage, read>
 *   @group(0) @binding(n .. n+m-1)    outputs, var<storage, read_write>
 *   @group(0) @binding(n+m)           uniforms (only when `dispatch` returns some), var<uniform>
 * Uniform words are u32; floats are bit-cast in by `packUniforms`.
 */
export type DType = 'f32' | 'i32' | HalfDType
/**
 * Weights kept at 2 bytes a value (half-precision.ts): their raw 16-bit patterns, in a Uint16Array on
 * the host, two to a 32-bit word on the GPU (element 2i in the low half). Only the operands that
 * read them as such take them: matmul's B and the embedding table.
 */
export type HalfDType = 'bf16' | 'f16'
export type HostArray = Float32Array | Int32Array | Uint16Array

export interface GpuDispatch {
  workgroups: [number, number, number]
  /** u32 words, padded by the backend to 16 bytes. */
  uniforms?: Uint32Array
}

export interface GpuProgram<P> {
  /** Everything besides `name` that changes the WGSL text (tile sizes, flags, dtype, shape class). */
  key(p: P): string
  code(p: P): string
  dispatch(p: P): GpuDispatch
}

export interface Kernel<P> {
  readonly name: string
  cpu(p: P, inputs: HostArray[], outputs: HostArray[]): void
  gpu: GpuProgram<P>
}

/** Pack a mix of u32 and f32 values into uniform words (floats marked with {f: x}). */
export function packUniforms(values: (number | {f: number})[]): Uint32Array {
  const words = new Uint32Array(values.length)
  const f32 = new Float32Array(words.buffer)
  values.forEach((v, i) => {
    if (typeof v === 'number') words[i] = v >>> 0
    else f32[i] = v.f
  })
  return words
}

export const ceilDiv = (a: number, b: number): number => Math.floor((a + b - 1) / b)

/** Split a 1-D workgroup count over x and y so neither passes WebGPU's 65535 limit. */
export function grid1d(count: number): [number, number, number] {
  if (count <= 65535) return [Math.max(count, 1), 1, 1]
  const y = ceilDiv(count, 65535)
  return [ceilDiv(count, y), y, 1]
}
