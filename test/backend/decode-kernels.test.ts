import {describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {attention, type AttentionParams} from '../../src/kernels/attention.js'
import {copyRows, type CopyRowsParams} from '../../src/kernels/copy-rows.js'
import {withTape} from '../../src/engine/autograd.js'
import {fromArray} from '../../src/engine/tensor.js'
import {causalConv} from '../../src/models/mixers/ssd-parts.js'
import {referenceBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

const gpu = await webgpuBackend()
const cpu = referenceBackend()

/** copy_rows into a destination that already holds values: only the addressed rows change. */
async function copyOn(backend: Backend, p: CopyRowsParams, src: Float32Array, dst: Float32Array): Promise<Float32Array> {
  const s = backend.alloc(src.length, 'f32')
  const d = backend.alloc(dst.length, 'f32')
  backend.write(s, src)
  backend.write(d, dst)
  backend.run(copyRows, p, [s], [d])
  const out = (await backend.read(d)) as Float32Array
  backend.free(s)
  backend.free(d)
  return out
}

function expectedCopy(p: CopyRowsParams, src: Float32Array, dst: Float32Array): Float32Array {
  const out = dst.slice()
  for (let b = 0; b < p.batch; b++) {
    for (let r = 0; r < p.rows; r++) {
      for (let c = 0; c < p.width; c++) out[((b * p.dstRows) + p.dstStart + r) * p.width + c] = src[((b * p.srcRows) + p.srcStart + r) * p.width + c]
    }
  }
  return out
}

const COPIES: CopyRowsParams[] = [
  {batch: 2, rows: 3, width: 5, srcRows: 3, srcStart: 0, dstRows: 10, dstStart: 4},
  {batch: 3, rows: 1, width: 7, srcRows: 6, srcStart: 5, dstRows: 1, dstStart: 0},
  {batch: 1, rows: 300, width: 33, srcRows: 310, srcStart: 9, dstRows: 400, dstStart: 100},
]

describe('copy_rows', () => {
  it('CPU writes exactly the addressed rows, leaving the rest of the destination', async () => {
    const rng = new Rng(5)
    for (const p of COPIES) {
      const src = rng.floats(p.batch * p.srcRows * p.width)
      const dst = rng.floats(p.batch * p.dstRows * p.width)
      expect(Array.from(await copyOn(cpu, p, src, dst))).toEqual(Array.from(expectedCopy(p, src, dst)))
    }
  })

  it.skipIf(!gpu)('WebGPU matches CPU', async () => {
    const rng = new Rng(6)
    for (const p of COPIES) {
      const src = rng.floats(p.batch * p.srcRows * p.width)
      const dst = rng.floats(p.batch * p.dstRows * p.width)
      expectClose(await copyOn(gpu!, p, src, dst), await copyOn(cpu, p, src, dst), `copy_rows ${JSON.stringify(p)}`, {rtol: 0, atol: 0})
    }
  })
})

describe('attention over the first tk rows of a longer cache (kvRows)', () => {
  const shapes = [
    {batch: 2, tq: 1, tk: 9, kvRows: 16, hq: 4, hkv: 2, d: 8},
    {batch: 2, tq: 4, tk: 7, kvRows: 12, hq: 3, hkv: 1, d: 20},
    {batch: 1, tq: 1, tk: 2100, kvRows: 2200, hq: 2, hkv: 2, d: 16},
  ]

  /** k [B, kvRows, Hkv, D] cut to its first tk rows per batch entry. */
  const compact = (x: Float32Array, s: (typeof shapes)[number]): Float32Array => {
    const row = s.hkv * s.d
    const out = new Float32Array(s.batch * s.tk * row)
    for (let b = 0; b < s.batch; b++) out.set(x.subarray(b * s.kvRows * row, (b * s.kvRows + s.tk) * row), b * s.tk * row)
    return out
  }

  it('CPU: the same as attention over the compacted rows, and garbage past tk is never read', async () => {
    const rng = new Rng(11)
    for (const s of shapes) {
      const q = rng.floats(s.batch * s.tq * s.hq * s.d, 2)
      const k = rng.floats(s.batch * s.kvRows * s.hkv * s.d, 2)
      const v = rng.floats(s.batch * s.kvRows * s.hkv * s.d)
      for (let b = 0; b < s.batch; b++) k.fill(NaN, (b * s.kvRows + s.tk) * s.hkv * s.d, (b + 1) * s.kvRows * s.hkv * s.d)
      const base = {batch: s.batch, tq: s.tq, tk: s.tk, hq: s.hq, hkv: s.hkv, d: s.d, scale: 0.25, headMask: false, returnProbs: false}
      const [strided] = await runKernel(cpu, attention, {...base, kvRows: s.kvRows}, [q, k, v], [s.batch * s.tq * s.hq * s.d])
      const [dense] = await runKernel(cpu, attention, base, [q, compact(k, s), compact(v, s)], [s.batch * s.tq * s.hq * s.d])
      expectClose(strided, dense, `kvRows ${JSON.stringify(s)}`, {rtol: 0, atol: 0})
    }
  })

  it.skipIf(!gpu)('WebGPU matches CPU', async () => {
    const rng = new Rng(12)
    for (const s of shapes) {
      const p: AttentionParams = {batch: s.batch, tq: s.tq, tk: s.tk, kvRows: s.kvRows, hq: s.hq, hkv: s.hkv, d: s.d, scale: 0.25, headMask: true, returnProbs: false}
      const inputs = [rng.floats(s.batch * s.tq * s.hq * s.d, 2), rng.floats(s.batch * s.kvRows * s.hkv * s.d, 2), rng.floats(s.batch * s.kvRows * s.hkv * s.d), Float32Array.from({length: s.hq}, (_, h) => h + 0.5)]
      const size = [s.batch * s.tq * s.hq * s.d]
      const [want] = await runKernel(cpu, attention, p, inputs, size)
      const [got] = await runKernel(gpu!, attention, p, inputs, size)
      expectClose(got, want, `attention kvRows ${JSON.stringify(s)}`, {rtol: 1e-5, atol: 1e-6})
    }
  })
})

describe('conv1d_carry: the decoding conv in one kernel', () => {
  /** causalConv with a window: composite (under a tape, so it takes concat, conv1d and narrows) or carried. */
  async function conv(backend: Backend, shape: [number, number, number], width: number, bias: boolean, composite: boolean, seed: number) {
    const [B, T, C] = shape
    const rng = new Rng(seed)
    const x = fromArray(backend, rng.floats(B * T * C), shape)
    const window = fromArray(backend, rng.floats(B * (width - 1) * C), [B, width - 1, C])
    const weight = fromArray(backend, rng.floats(C * width), [C, width])
    const b = bias ? fromArray(backend, rng.floats(C), [C]) : undefined
    const launched: string[] = []
    const run = backend.run.bind(backend)
    backend.run = (kernel, ...rest) => (launched.push(kernel.name), run(kernel, ...rest))
    try {
      if (composite) weight.requiresGrad = true
      const out = composite ? withTape(() => causalConv(x, weight, b, {window, keepWindow: true})).result : causalConv(x, weight, b, {window, keepWindow: true})
      return {y: await out.y.toArray(), window: await out.window!.toArray(), launched}
    } finally {
      backend.run = run
    }
  }

  const CASES: [[number, number, number], number, boolean][] = [[[3, 1, 37], 4, true], [[2, 5, 19], 4, false], [[1, 2, 300], 3, true], [[2, 1, 5], 2, false]]

  it('CPU: y and the next window equal the composite (concat, conv1d, narrows), in one launch instead of four', async () => {
    for (const [shape, width, bias] of CASES) {
      const want = await conv(cpu, shape, width, bias, true, 7)
      const got = await conv(cpu, shape, width, bias, false, 7)
      expect(Array.from(got.y)).toEqual(Array.from(want.y))
      expect(Array.from(got.window)).toEqual(Array.from(want.window))
      expect(got.launched).toEqual(['conv1d_carry'])
      expect(want.launched).toEqual(['join_rows', 'conv1d', 'strided_copy', 'strided_copy'])
    }
  })

  it.skipIf(!gpu)('WebGPU matches CPU', async () => {
    for (const [shape, width, bias] of CASES) {
      const want = await conv(cpu, shape, width, bias, false, 8)
      const got = await conv(gpu!, shape, width, bias, false, 8)
      expectClose(got.y, want.y, `y ${shape}`, {rtol: 1e-6, atol: 1e-6})
      expectClose(got.window, want.window, `window ${shape}`, {rtol: 0, atol: 0})
    }
  })
})
