import {attention, widenedKv, type AttentionParams} from '../kernels/attention.js'
import {widenHalf} from '../kernels/half-precision.js'
import type {HostArray, Kernel} from '../kernels/kernel.js'
import {matmul, type MatmulParams} from '../kernels/matmul.js'
import {ssdChunkMix, type ChunkMixParams} from '../kernels/ssd-mix.js'
import {tryAttentionFast} from './cpu-attention/attention-fast.js'
import {tryMatmulFast} from './cpu-matmul/matmul-fast.js'
import {chunkMixFast} from './cpu-ssd/chunk-mix-fast.js'

/**
 * A faster CPU implementation of one kernel, on float32 storage (matmul's B may be half precision): it computes and returns true, or
 * returns false having done nothing (a problem too small to gain, a shape it does not take), and
 * the kernel's `cpu` reference runs instead. Each is tested against that reference
 * (test/backend/cpu-fast-paths.test.ts and the fast path's own test).
 */
export type FastPath<P> = (p: P, inputs: HostArray[], outputs: Float32Array[]) => boolean

let scratch = new Float32Array(0)
/** One f32 buffer reused for every widened B (the CPU backend runs one kernel at a time): no allocation per call. */
function widenScratch(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n)
  return scratch.subarray(0, n)
}

/** Pairs a kernel with its fast path, so the parameter types must agree. */
const entry = <P>(kernel: Kernel<P>, fast: FastPath<P>): [string, FastPath<unknown>] => [kernel.name, fast as FastPath<unknown>]

/** The CPU backend's fast paths by kernel name; every other kernel runs its reference. */
export const CPU_FAST_PATHS: ReadonlyMap<string, FastPath<unknown>> = new Map([
  // A half-precision B is widened for the call only: it stays at 2 bytes a value between calls.
  entry<MatmulParams>(matmul, (p, inputs, outputs) => {
    if (!p.bDtype) return tryMatmulFast(p, inputs as Float32Array[], outputs)
    const [a, b, ...rest] = inputs
    const {bDtype, ...f32Params} = p
    return tryMatmulFast(f32Params, [a as Float32Array, widenHalf(bDtype, b as Uint16Array, widenScratch(b.length)), ...(rest as Float32Array[])], outputs)
  }),
  entry<AttentionParams>(attention, (params, given, outputs) => {
    const {p, inputs} = widenedKv(params, given)
    return tryAttentionFast(p, inputs as Float32Array[], outputs)
  }),
  entry<ChunkMixParams>(ssdChunkMix, (p, inputs, outputs) => {
    chunkMixFast(p, inputs as Float32Array[], outputs)
    return true
  }),
])
