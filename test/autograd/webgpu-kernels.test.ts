import {describe, expect, it} from 'vitest'
import {adamw, type AdamWParams} from '../../src/kernels/adamw.js'
import {attentionBackwardDkv, attentionBackwardDq, attentionBackwardStats, type AttentionBackwardParams} from '../../src/kernels/backward/attention-backward.js'
import {swigluBackward, unaryBackward} from '../../src/kernels/backward/elementwise-backward.js'
import {embeddingBackward} from '../../src/kernels/backward/embedding-backward.js'
import {layernormBackward, rmsnormBackward} from '../../src/kernels/backward/norm-backward.js'
import {crossEntropyBackward, crossEntropyRows} from '../../src/kernels/cross-entropy.js'
import type {UnaryOp} from '../../src/kernels/elementwise.js'
import type {HostArray, Kernel} from '../../src/kernels/kernel.js'
import {broadcastAxis, rowNorm, rowNormBackward, sumAxis} from '../../src/kernels/reduce.js'
import {logSoftmaxRows} from '../../src/kernels/log-softmax.js'
import {softTargetBackward, softTargetRows, type SoftTargetParams} from '../../src/kernels/soft-target.js'
import {referenceBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

/**
 * WebGPU against the CPU twins for every training kernel, on fresh random inputs and shapes that
 * are not multiples of the 128-thread workgroup; outputs start as NaN (runKernel poisons them).
 */
const gpu = await webgpuBackend()
const cpu = referenceBackend()

async function agree<P>(kernel: Kernel<P>, params: P, inputs: HostArray[], sizes: number[], label: string, tol = {rtol: 1e-4, atol: 1e-5}): Promise<void> {
  const want = await runKernel(cpu, kernel, params, inputs, sizes)
  const got = await runKernel(gpu!, kernel, params, inputs, sizes)
  want.forEach((w, i) => expectClose(got[i], w, `${kernel.name} ${label} output ${i}`, tol))
}

describe.skipIf(!gpu)('training kernels: WebGPU vs CPU', () => {
  const UNARY: UnaryOp[] = ['silu', 'gelu_new', 'softplus', 'neg_softplus', 'sigmoid', 'exp', 'tanh', 'neg', 'scale']
  it.each(UNARY)('unary backward %s', async (op) => {
    const rng = new Rng(31 + op.length)
    for (const n of [1, 127, 129, rng.int(300, 5000)]) {
      const range = op === 'exp' ? 4 : 25
      await agree(unaryBackward, {op, n, alpha: -1.3}, [rng.floats(n, range), rng.floats(n)], [n], `n=${n}`, {rtol: 2e-5, atol: 1e-6})
    }
  })

  it('swiglu backward', async () => {
    const rng = new Rng(32)
    for (const n of [1, 129, 1531]) await agree(swigluBackward, {n}, [rng.floats(n, 10), rng.floats(n), rng.floats(n)], [n, n], `n=${n}`)
  })

  it.each([
    ['rmsnorm', rmsnormBackward],
    ['layernorm', layernormBackward],
  ] as const)('%s backward', async (_, kernel) => {
    const rng = new Rng(33)
    for (const [rows, cols] of [[1, 1], [3, 127], [5, 129], [rng.int(2, 9), rng.int(200, 700)]]) {
      const inputs = [rng.floats(rows * cols, 2), rng.floats(cols), rng.floats(rows * cols)]
      await agree(kernel, {rows, cols, eps: 1e-5}, inputs, [rows * cols, rows * cols], `${rows}x${cols}`, {rtol: 1e-4, atol: 2e-5})
    }
  })

  it('embedding backward (scatter-add with repeated ids, more ids than a workgroup, ids spread over several tiles)', async () => {
    const rng = new Rng(34)
    // Vocabularies larger than n leave rows no id names (written as zeros), and spread over several row blocks.
    for (const [n, vocab, dim] of [[1, 1, 1], [7, 5, 3], [300, 11, 130], [rng.int(129, 400), rng.int(2, 40), rng.int(1, 300)], [5, 300, 2], [700, 1000, 257]]) {
      await agree(embeddingBackward, {n, vocab, dim}, [rng.ints(n, 0, vocab - 1), rng.floats(n * dim)], [vocab * dim], `n=${n} vocab=${vocab} dim=${dim}`, {rtol: 0, atol: 0})
    }
  })

  const attentionShapes: [number, number, number, number, number, number, boolean][] = [
    [1, 1, 1, 1, 1, 1, false],
    [2, 7, 7, 4, 2, 5, false],
    [1, 5, 9, 6, 3, 8, true],
    [2, 13, 13, 3, 1, 16, true],
  ]
  it.each(attentionShapes)('attention backward b=%i tq=%i tk=%i hq=%i hkv=%i d=%i mask=%s', async (batch, tq, tk, hq, hkv, d, headMask) => {
    const rng = new Rng(35 + tq * d)
    const p: AttentionBackwardParams = {batch, tq, tk, hq, hkv, d, scale: 1 / Math.sqrt(d), headMask}
    const [q, out, gy] = [0, 1, 2].map(() => rng.floats(batch * tq * hq * d, 1.5))
    const [k, v] = [0, 1].map(() => rng.floats(batch * tk * hkv * d, 1.5))
    const mask = Float32Array.from({length: hq}, (_, h) => (h === 1 ? 0 : 0.5 + h))
    await agree(attentionBackwardStats, p, [q, k, out, gy], [batch * hq * tq * 2], 'stats')
    const [stats] = await runKernel(cpu, attentionBackwardStats, p, [q, k, out, gy], [batch * hq * tq * 2])
    const rest = [q, k, v, gy, stats, ...(headMask ? [mask] : [])]
    await agree(attentionBackwardDq, p, rest, [q.length], 'dq')
    await agree(attentionBackwardDkv, p, rest, [k.length, v.length], 'dk dv')
  })

  it('sum over an axis (short and long axes) and its broadcast', async () => {
    const rng = new Rng(36)
    for (const [outer, n, inner] of [[1, 1, 1], [3, 5, 7], [1, 1000, 3], [2, 129, 1], [4, 64, 9], [1, 65, 130]]) {
      const p = {outer, n, inner, scale: 0.37}
      await agree(sumAxis, p, [rng.floats(outer * n * inner)], [outer * inner], `${outer}x${n}x${inner}`)
      await agree(broadcastAxis, p, [rng.floats(outer * inner)], [outer * n * inner], `${outer}x${n}x${inner}`)
    }
  })

  it('log-softmax over rows (short rows, rows longer than a workgroup, a vocabulary-sized row)', async () => {
    const rng = new Rng(38)
    for (const [rows, cols] of [[1, 1], [3, 129], [5, 1000], [2, 50_000]]) {
      const x = rng.floats(rows * cols).map((v) => v * 30)
      await agree(logSoftmaxRows, {rows, cols}, [x], [rows * cols], `${rows}x${cols}`)
    }
  })

  it('row norm and its backward', async () => {
    const rng = new Rng(37)
    for (const [rows, cols] of [[1, 1], [3, 129], [7, 1000]]) {
      const x = rng.floats(rows * cols)
      const p = {rows, cols, eps: 1e-12}
      await agree(rowNorm, p, [x], [rows], `${rows}x${cols}`)
      const [norms] = await runKernel(cpu, rowNorm, p, [x], [rows])
      await agree(rowNormBackward, p, [x, norms, rng.floats(rows)], [rows * cols], `${rows}x${cols}`)
    }
  })

  it('hard-label cross-entropy rows and backward, with an ignored label', async () => {
    const rng = new Rng(38)
    for (const [rows, vocab] of [[1, 1], [4, 129], [6, 1000]]) {
      const logits = rng.floats(rows * vocab, 6)
      const labels = rng.ints(rows, 0, vocab - 1)
      labels[rows - 1] = -100
      await agree(crossEntropyRows, {rows, vocab}, [logits, labels], [rows], `${rows}x${vocab}`)
      await agree(crossEntropyBackward, {rows, vocab}, [logits, labels, rng.floats(rows)], [rows * vocab], `${rows}x${vocab}`, {rtol: 1e-4, atol: 1e-6})
    }
  })

  it.each([
    [false, false, 1],
    [true, false, 2],
    [true, true, 1.5],
    [false, true, 3],
  ])('soft-target rows and backward: teacher logits %s, KL %s, T = %s', async (teacherLogits, kl, temperature) => {
    const rng = new Rng(39)
    for (const [rows, vocab] of [[1, 2], [3, 129], [5, 777]]) {
      const p: SoftTargetParams = {rows, vocab, temperature, teacherLogits, kl}
      const student = rng.floats(rows * vocab, 5)
      let teacher = rng.floats(rows * vocab, 5)
      if (!teacherLogits) teacher = normalizedRows(teacher.map(Math.exp), rows, vocab)
      await agree(softTargetRows, p, [student, teacher], [rows], `${rows}x${vocab}`)
      await agree(softTargetBackward, p, [student, teacher, rng.floats(rows)], [rows * vocab], `${rows}x${vocab}`, {rtol: 1e-4, atol: 1e-6})
    }
  })

  it('AdamW step, in place on param, m and v', async () => {
    const rng = new Rng(40)
    for (const n of [1, 129, 3001]) {
      const p: AdamWParams = {n, lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3, gradScale: 0.5}
      const state = [rng.floats(n), rng.floats(n, 0.1), rng.floats(n, 0.01).map(Math.abs)]
      const grad = rng.floats(n)
      const [want, got] = await Promise.all([stepOn(cpu, p, grad, state), stepOn(gpu!, p, grad, state)])
      want.forEach((w, i) => expectClose(got[i], w, `adamw n=${n} ${['param', 'm', 'v'][i]}`, {rtol: 1e-5, atol: 1e-7}))
      expect(want[0].some((v, i) => v !== state[0][i])).toBe(true)
    }
  })
})

function normalizedRows(x: Float32Array, rows: number, vocab: number): Float32Array {
  for (let r = 0; r < rows; r++) {
    let s = 0
    for (let c = 0; c < vocab; c++) s += x[r * vocab + c]
    for (let c = 0; c < vocab; c++) x[r * vocab + c] /= s
  }
  return x
}

async function stepOn(backend: typeof cpu | NonNullable<typeof gpu>, p: AdamWParams, grad: Float32Array, state: Float32Array[]): Promise<HostArray[]> {
  const upload = (data: Float32Array) => {
    const s = backend.alloc(data.length, 'f32')
    backend.write(s, data)
    return s
  }
  const g = upload(grad)
  const outs = state.map(upload)
  backend.run(adamw, p, [g], outs)
  return Promise.all(outs.map((s) => backend.read(s)))
}
