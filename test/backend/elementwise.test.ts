import {describe, expect, it} from 'vitest'
import {binary, swiglu, unary, type BinaryOp, type UnaryOp} from '../../src/kernels/elementwise.js'
import {cpuBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

const gpu = await webgpuBackend()
const cpu = cpuBackend()

// Sizes around the 256-thread workgroup, plus one that needs the grid split over y.
const SIZES = [1, 7, 255, 256, 257, 1000, 65536 * 256 + 3]
const UNARY_OPS: UnaryOp[] = ['silu', 'gelu_new', 'softplus', 'neg_softplus', 'sigmoid', 'exp', 'tanh', 'neg', 'scale']

describe.skipIf(!gpu)('elementwise kernels: WebGPU vs CPU', () => {
  it.each(UNARY_OPS)('unary %s', async (op) => {
    const rng = new Rng(11 + op.length)
    for (const n of [...SIZES.slice(0, 6), rng.int(2, 5000)]) {
      // Wide range: softplus passes its x > 20 branch, tanh and sigmoid saturate.
      const x = rng.floats(n, 25)
      const params = {op, n, alpha: -1.75}
      const [want] = await runKernel(cpu, unary, params, [x], [n])
      const [got] = await runKernel(gpu!, unary, params, [x], [n])
      expectClose(got, want, `${op} n=${n}`, {rtol: 2e-6, atol: 1e-6})
    }
  })

  it.each(['add', 'sub', 'mul'] as BinaryOp[])('binary %s, same size and broadcast', async (op) => {
    const rng = new Rng(5)
    for (const [n, bn] of [[1, 1], [300, 300], [300, 3], [257 * 5, 257], [rng.int(1, 40) * 97, 97]]) {
      const a = rng.floats(n)
      const b = rng.floats(bn)
      const [want] = await runKernel(cpu, binary, {op, n, bn}, [a, b], [n])
      const [got] = await runKernel(gpu!, binary, {op, n, bn}, [a, b], [n])
      expectClose(got, want, `${op} n=${n} bn=${bn}`, {rtol: 0, atol: 0})
    }
  })

  it('swiglu', async () => {
    const rng = new Rng(9)
    for (const n of [1, 255, 257, 4099]) {
      const g = rng.floats(n, 12)
      const up = rng.floats(n, 3)
      const [want] = await runKernel(cpu, swiglu, {n}, [g, up], [n])
      const [got] = await runKernel(gpu!, swiglu, {n}, [g, up], [n])
      expectClose(got, want, `swiglu n=${n}`, {rtol: 2e-6, atol: 1e-6})
    }
  })

  it('splits a grid larger than 65535 workgroups over y', async () => {
    const n = SIZES[6]
    const x = new Rng(3).floats(n)
    const [got] = await runKernel(gpu!, unary, {op: 'neg', n}, [x], [n])
    let wrong = 0
    for (let i = 0; i < n; i++) if (got[i] !== -x[i]) wrong++
    expect(wrong).toBe(0)
  })
})
