import {describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {widenHalf} from '../../src/kernels/half-precision.js'
import type {HalfDType, HostArray} from '../../src/kernels/kernel.js'
import {matmul, type MatmulParams} from '../../src/kernels/matmul.js'
import {matmulGpu, matmulV1, matmulVersionOf, MIN_WORKGROUPS, ROWS_VERSION_MAX_M} from '../../src/kernels/matmul-wgsl.js'
import {roundToHalf} from '../../src/models/weight-dtype.js'
import {poisoned, referenceBackend, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

const gpu = await webgpuBackend()
const cpu = referenceBackend()
const linear = (m: number, n: number, k: number): MatmulParams => ({batch: 1, m, n, k, transA: false, transB: true, broadcastB: false, bias: false})

async function run(backend: Backend, p: MatmulParams, inputs: HostArray[], half?: HalfDType): Promise<Float32Array> {
  const ins = inputs.map((data) => {
    const s = backend.alloc(data.length, data instanceof Uint16Array ? half! : 'f32')
    backend.write(s, data)
    return s
  })
  const out = poisoned(backend, p.batch * p.m * p.n)
  backend.run(matmul, p, ins, [out])
  const result = (await backend.read(out)) as Float32Array
  for (const s of [...ins, out]) backend.free(s)
  return result
}

describe('matmul version 3: a linear layer over a decode step\'s few rows', () => {
  it('decode-step linears take it; wider M, transposed A and untransposed B do not', () => {
    for (const m of [1, 2, 7, 8, 9, 33, ROWS_VERSION_MAX_M]) expect(matmulVersionOf(linear(m, 2048, 2048))).toBe(3)
    expect(matmulVersionOf(linear(ROWS_VERSION_MAX_M + 1, 2048, 2048))).not.toBe(3)
    expect(matmulVersionOf({...linear(1, 2048, 2048), transB: false})).not.toBe(3)
    expect(matmulVersionOf({...linear(1, 2048, 2048), transA: true})).not.toBe(3)
  })

  it('one row of a 2048-wide projection spreads over N/8 workgroups, where 64-row tiles gave N/64', () => {
    const p = linear(1, 2048, 8192)
    expect(matmulV1.dispatch(p).workgroups).toEqual([32, 1, 1])
    expect(matmulGpu.dispatch(p).workgroups).toEqual([256, 1, 1])
    // The LM head at batch 64: 8 row blocks of 8 over 16,032 column blocks.
    expect(matmulGpu.dispatch(linear(64, 128256, 2048)).workgroups).toEqual([16032, 8, 1])
  })

  it('above it, a linear layer\'s forward takes the first tile that gives the GPU enough workgroups, else 64x64 tiles; training\'s shapes keep theirs', () => {
    const workgroups = (p: MatmulParams): number => matmulGpu.dispatch(p).workgroups.reduce((a, b) => a * b)
    // 256 rows: 256x128 tiles would be 16 workgroups, 128x128 ones 32; version 1's 64x64 give 128.
    expect(matmulVersionOf(linear(256, 2048, 2048))).toBe(1)
    expect(workgroups(linear(256, 2048, 2048))).toBe(MIN_WORKGROUPS)
    // 1024 rows: 128x128 tiles give 128 workgroups (256x128 would give 64).
    expect(matmulGpu.key(linear(1024, 2048, 2048))).toMatch(/^v2:128x128x8\/8x8g8u,/)
    expect(workgroups(linear(1024, 2048, 2048))).toBe(MIN_WORKGROUPS)
    // Training: the forward over 8192 tokens, the weight gradient (Aᵀ) of a k/v projection, a tiny layer.
    expect(matmulGpu.key(linear(8192, 3072, 2048))).toMatch(/^v2:256x128x8\/16x8g8,/)
    expect(matmulGpu.key({...linear(512, 2048, 8192), transA: true, transB: false})).toMatch(/^v2:128x128x8\/8x8g8u,/)
    expect(matmulVersionOf(linear(128, 128, 24))).toBe(2)
  })

  describe.skipIf(!gpu)('WebGPU against the CPU reference', () => {
    it('f32 weights: M across row blocks, N and K off every multiple, bias, batched A over one W', async () => {
      const rng = new Rng(23)
      const shapes = [[1, 1, 1], [1, 13, 300], [2, 8, 32], [3, 9, 31], [5, 17, 64], [8, 100, 7], [9, 33, 65], [17, 5, 129], [64, 70, 40]]
      for (const [m, n, k] of shapes) {
        for (const p of [{...linear(m, n, k), bias: rng.next() < 0.5}, {...linear(m, n, k), batch: 2, broadcastB: true, bias: true}]) {
          expect(matmulVersionOf(p)).toBe(3)
          const a = rng.floats(p.batch * m * k)
          const inputs = [a, rng.floats(n * k), ...(p.bias ? [rng.floats(n)] : [])]
          const want = await run(cpu, p, inputs)
          expectClose(await run(gpu!, p, inputs), want, `v3 ${JSON.stringify(p)}`, {rtol: 1e-5, atol: 1e-7 * Math.max(k, 10)})
        }
      }
    })

    for (const dtype of ['bf16', 'f16'] as const) {
      it(`${dtype} weights (an odd K: rows of W straddle 32-bit words)`, async () => {
        const rng = new Rng(29)
        for (const [m, n, k] of [[1, 11, 37], [4, 16, 64], [6, 9, 129]]) {
          const p = {...linear(m, n, k), bias: true, bDtype: dtype}
          const a = rng.floats(m * k)
          const w = roundToHalf(rng.floats(n * k), dtype)
          const bias = rng.floats(n)
          const want = await run(cpu, {...p, bDtype: undefined}, [a, widenHalf(dtype, w), bias])
          expectClose(await run(gpu!, p, [a, w, bias], dtype), want, `v3 ${JSON.stringify(p)}`, {rtol: 1e-5, atol: 1e-7 * k})
        }
      })
    }
  })
})
