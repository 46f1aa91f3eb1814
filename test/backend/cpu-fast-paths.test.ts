import {describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {CPU_FAST_PATHS} from '../../src/backend/cpu-fast-paths.js'
import {attention, attentionCpu, type AttentionParams} from '../../src/kernels/attention.js'
import type {Kernel} from '../../src/kernels/kernel.js'
import {matmul, matmulCpu, type MatmulParams} from '../../src/kernels/matmul.js'
import {chunkCount} from '../../src/kernels/ssd-chunk.js'
import {chunkMixCpu, ssdChunkMix, type ChunkMixParams} from '../../src/kernels/ssd-mix.js'
import {referenceBackend, runKernel} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

/**
 * A kernel's `cpu` is its plain reference; the CPU backend adds its fast paths from a table of its
 * own. Each fast path is checked here against the reference-only backend, at shapes it takes.
 */
interface Case<P> {
  kernel: Kernel<P>
  reference: (p: P, inputs: Float32Array[], outputs: Float32Array[]) => void
  params: P
  inputSizes: number[]
  outputSizes: number[]
  tolerance: {rtol: number; atol: number}
}

const matmulParams: MatmulParams = {batch: 2, m: 70, n: 45, k: 33, transA: false, transB: true, broadcastB: false, bias: true}
const attentionParams: AttentionParams = {batch: 2, tq: 24, tk: 24, hq: 4, hkv: 2, d: 16, scale: 0.25, headMask: false, returnProbs: true}
const mixParams: ChunkMixParams = {batch: 2, seq: 37, heads: 4, chunk: 16, q: {heads: 1, dim: 16}, k: {heads: 1, dim: 16}, v: {heads: 4, dim: 8}, anticausal: false, stateLayout: 'ji'}

const cases = [
  {
    kernel: matmul, reference: matmulCpu, params: matmulParams,
    inputSizes: [2 * 70 * 33, 2 * 45 * 33, 45], outputSizes: [2 * 70 * 45], tolerance: {rtol: 1e-5, atol: 1e-5},
  } satisfies Case<MatmulParams>,
  {
    kernel: attention, reference: attentionCpu, params: attentionParams,
    inputSizes: [2 * 24 * 4 * 16, 2 * 24 * 2 * 16, 2 * 24 * 2 * 16], outputSizes: [2 * 24 * 4 * 16, 2 * 4 * 24 * 24], tolerance: {rtol: 1e-5, atol: 1e-5},
  } satisfies Case<AttentionParams>,
  {
    // The fast chunk mix sums in the reference's order: equal to the bit.
    kernel: ssdChunkMix, reference: chunkMixCpu, params: mixParams,
    inputSizes: [2 * 37 * 16, 2 * 37 * 16, 2 * 37 * 4 * 8, 2 * 4 * 37, 2 * 4 * chunkCount(mixParams) * 16 * 8], outputSizes: [2 * 37 * 4 * 8], tolerance: {rtol: 0, atol: 0},
  } satisfies Case<ChunkMixParams>,
] as Case<unknown>[]

describe('CPU fast paths', () => {
  it('cover exactly the kernels listed here', () => {
    expect([...CPU_FAST_PATHS.keys()].sort()).toEqual(cases.map((c) => c.kernel.name).sort())
  })

  for (const c of cases) {
    const inputs = c.inputSizes.map((n, i) => new Rng(10 + i).floats(n))
    it(`${c.kernel.name}: the kernel's cpu is the plain reference, to the bit`, () => {
      const got = c.outputSizes.map((n) => new Float32Array(n).fill(NaN))
      const want = c.outputSizes.map((n) => new Float32Array(n).fill(NaN))
      c.kernel.cpu(c.params, inputs, got)
      c.reference(c.params, inputs, want)
      expect(want.some((o) => o.some(Number.isNaN))).toBe(false)
      expect(got).toEqual(want)
    })

    it(`${c.kernel.name}: the fast path is taken and agrees with the reference-only backend`, async () => {
      expect(CPU_FAST_PATHS.get(c.kernel.name)!(c.params, inputs, c.outputSizes.map((n) => new Float32Array(n)))).toBe(true)
      const fast = await runKernel(new CpuBackend(), c.kernel, c.params, inputs, c.outputSizes)
      const reference = await runKernel(referenceBackend(), c.kernel, c.params, inputs, c.outputSizes)
      fast.forEach((out, i) => expectClose(out as Float32Array, reference[i] as Float32Array, `${c.kernel.name} output ${i}`, c.tolerance))
    })
  }

  it('a reference-only backend runs no fast path', async () => {
    // The fast matmul sums in another order: on this shape its bits differ from the reference's.
    const inputs = [new Rng(1).floats(2 * 70 * 33), new Rng(2).floats(2 * 45 * 33), new Rng(3).floats(45)]
    const want = [new Float32Array(2 * 70 * 45)]
    matmulCpu(matmulParams, inputs, want)
    const [fast] = await runKernel(new CpuBackend(), matmul, matmulParams, inputs, [want[0].length])
    const [reference] = await runKernel(new CpuBackend({fast: false}), matmul, matmulParams, inputs, [want[0].length])
    expect(fast).not.toEqual(want[0])
    expect(reference).toEqual(want[0])
  })
})
