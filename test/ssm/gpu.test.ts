import {describe, it} from 'vitest'
import {conv1d, conv1dInputGrad, conv1dWeightGrad} from '../../src/kernels/conv1d.js'
import {cumsum, segsum, segsumGradDiff} from '../../src/kernels/cumsum.js'
import type {HostArray, Kernel} from '../../src/kernels/kernel.js'
import {chunkCount, ssdChunkCumsum, ssdChunkState, ssdStatePass} from '../../src/kernels/ssd-chunk.js'
import {ssdDecayGradTerms, ssdGroupSum} from '../../src/kernels/ssd-grad.js'
import {ssdMatrix, ssdMatrixGrad} from '../../src/kernels/ssd-matrix.js'
import {ssdChunkMix} from '../../src/kernels/ssd-mix.js'
import {ssdStep} from '../../src/kernels/ssd-step.js'
import type {Backend} from '../../src/backend/backend.js'
import {backward, withTape} from '../../src/engine/autograd.js'
import * as ssm from '../../src/engine/ssm-ops.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import {referenceBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

/**
 * Every state-space kernel on WebGPU against its CPU twin, on odd shapes that cut across the
 * 256-thread groups and the 16 / 32 / 64-wide tiles. Outputs start as NaN (runKernel), so an
 * element the WGSL forgets to write fails the comparison.
 */
const gpu = await webgpuBackend()
const cpu = referenceBackend()

async function agree<P>(kernel: Kernel<P>, params: P, inputs: HostArray[], outputSizes: number[], label: string, tol = {rtol: 1e-4, atol: 1e-5}): Promise<void> {
  const want = await runKernel(cpu, kernel, params, inputs, outputSizes)
  const got = await runKernel(gpu!, kernel, params, inputs, outputSizes)
  want.forEach((w, i) => expectClose(got[i], w, `${label} output ${i}`, tol))
}

/** Log-decays: negative, as both Mamba-2 variants make them. */
const decays = (rng: Rng, n: number): Float32Array => Float32Array.from(rng.floats(n), (v) => -0.5 * Math.abs(v) - 0.01)

describe.skipIf(!gpu)('state-space kernels: WebGPU vs CPU', () => {
  it('conv1d forward and both gradients, widths 4 and 3, with and without bias', async () => {
    const rng = new Rng(1)
    for (const [batch, seq, channels, width, bias] of [[2, 37, 45, 4, true], [1, 3, 70, 4, false], [3, 11, 33, 3, true]] as const) {
      const p = {batch, seq, channels, width, bias}
      const n = batch * seq * channels
      const x = rng.floats(n)
      const w = rng.floats(channels * width)
      const label = JSON.stringify(p)
      await agree(conv1d, p, bias ? [x, w, rng.floats(channels)] : [x, w], [n], `conv1d ${label}`)
      await agree(conv1dInputGrad, p, [rng.floats(n), w], [n], `conv1d dx ${label}`)
      await agree(conv1dWeightGrad, p, [rng.floats(n), x], bias ? [channels * width, channels] : [channels * width], `conv1d dweight ${label}`)
    }
  })

  it('cumsum in all four directions, segsum and its gradient', async () => {
    const rng = new Rng(2)
    const [outer, len, inner] = [3, 29, 17]
    const x = rng.floats(outer * len * inner)
    for (const reverse of [false, true]) {
      for (const exclusive of [false, true]) {
        await agree(cumsum, {outer, len, inner, reverse, exclusive}, [x], [x.length], `cumsum reverse=${reverse} exclusive=${exclusive}`)
      }
    }
    const p = {outer: 2, len: 37, inner: 3}
    const a = rng.floats(p.outer * p.len * p.inner)
    await agree(segsum, p, [a], [p.outer * p.inner * p.len * p.len], 'segsum')
    await agree(segsumGradDiff, p, [rng.floats(p.outer * p.inner * p.len * p.len)], [a.length], 'segsum gradient diff')
  })

  // T = 45 with Q = 20: a short last chunk; P = 70 and N = 18 cross the 64- and 16-wide tiles.
  const shape = {batch: 2, seq: 45, heads: 4, chunk: 20}
  const [P, G, N] = [70, 2, 18]
  const K = chunkCount(shape)
  const {batch: Bn, seq: T, heads: H} = shape

  it('ssd chunk cumsum, chunk states (both decays) and state passing (both directions)', async () => {
    const rng = new Rng(3)
    const dA = decays(rng, Bn * T * H)
    await agree(ssdChunkCumsum, shape, [dA], [Bn * H * T], 'chunk cumsum')
    const [acs] = await runKernel(cpu, ssdChunkCumsum, shape, [dA], [Bn * H * T])
    for (const decay of ['toEnd', 'fromStart'] as const) {
      const p = {...shape, u: {heads: H, dim: P}, v: {heads: G, dim: N}, decay}
      await agree(ssdChunkState, p, [rng.floats(Bn * T * H * P), rng.floats(Bn * T * G * N), acs], [Bn * H * K * P * N], `chunk state ${decay}`)
    }
    const size = 7 * 5
    for (const reverse of [false, true]) {
      for (const init of [false, true]) {
        const S = rng.floats(Bn * H * K * size)
        const inputs = init ? [S, acs, rng.floats(Bn * H * size)] : [S, acs]
        await agree(ssdStatePass, {...shape, size, reverse, init}, inputs, [S.length, Bn * H * size], `state pass reverse=${reverse} init=${init}`)
      }
    }
  })

  it.each([
    ['y', {q: {heads: G, dim: N}, k: {heads: G, dim: N}, v: {heads: H, dim: P}, anticausal: false, stateLayout: 'ji'}],
    ['dC', {q: {heads: H, dim: P}, k: {heads: H, dim: P}, v: {heads: G, dim: N}, anticausal: false, stateLayout: 'ij'}],
    ['dx', {q: {heads: G, dim: N}, k: {heads: G, dim: N}, v: {heads: H, dim: P}, anticausal: true, stateLayout: 'ji'}],
    ['dB', {q: {heads: H, dim: P}, k: {heads: H, dim: P}, v: {heads: G, dim: N}, anticausal: true, stateLayout: 'ij'}],
  ] as const)('ssd chunk mix as used for %s', async (_, mix) => {
    const rng = new Rng(4)
    // Chunks of 20 (one 64-row tile), of 70 over T = 150 (two row and key tiles, a last chunk of
    // 10), and of 140 over T = 300 (three tiles of 64, the last of 12; a last chunk of 20).
    for (const sh of [shape, {batch: 1, seq: 150, heads: H, chunk: 70}, {batch: 1, seq: 300, heads: H, chunk: 140}]) {
      const [acs] = await runKernel(cpu, ssdChunkCumsum, sh, [decays(rng, sh.batch * sh.seq * H)], [sh.batch * H * sh.seq])
      const operand = (o: {heads: number; dim: number}): Float32Array => rng.floats(sh.batch * sh.seq * o.heads * o.dim)
      const inputs = [operand(mix.q), operand(mix.k), operand(mix.v), acs, rng.floats(sh.batch * H * chunkCount(sh) * mix.q.dim * mix.v.dim)]
      for (const version of [1, 2] as const) {
        const p = {...sh, ...mix, version}
        await agree(ssdChunkMix, p, inputs, [sh.batch * sh.seq * H * p.v.dim], `v${version} ${JSON.stringify(mix)} chunk ${sh.chunk}`)
      }
    }
  })

  it('ssd decay-gradient terms (with and without the final state) and group sums', async () => {
    const rng = new Rng(5)
    const stateSize = 6 * N
    for (const final of [false, true]) {
      const p = {batch: Bn, seq: T, heads: H, groups: G, stateDim: N, stateSize, final}
      const perHead = () => rng.floats(Bn * T * H * N)
      const perGroup = () => rng.floats(Bn * T * G * N)
      const inputs = [perHead(), perGroup(), perHead(), perGroup(), ...(final ? [rng.floats(Bn * H * stateSize), rng.floats(Bn * H * stateSize)] : [])]
      await agree(ssdDecayGradTerms, p, inputs, [Bn * T * H], `decay terms final=${final}`)
    }
    const g = {rows: Bn * T, heads: 6, groups: 2, dim: 19}
    await agree(ssdGroupSum, g, [rng.floats(g.rows * g.heads * g.dim)], [g.rows * g.groups * g.dim], 'group sum')
  })

  it('ssd matrix and its B / C gradients', async () => {
    const rng = new Rng(6)
    const p = {batch: 2, seq: 37, heads: 3, groups: 1, stateDim: 9}
    const n = p.batch * p.seq
    const dA = decays(rng, n * p.heads)
    await agree(ssdMatrix, p, [dA, rng.floats(n * p.stateDim), rng.floats(n * p.stateDim)], [p.batch * p.heads * p.seq * p.seq], 'matrix')
    const dM = rng.floats(p.batch * p.heads * p.seq * p.seq)
    for (const side of ['B', 'C'] as const) {
      await agree(ssdMatrixGrad, {...p, side}, [dM, dA, rng.floats(n * p.stateDim)], [n * p.heads * p.stateDim], `matrix grad ${side}`)
    }
  })

  it('ssd step', async () => {
    const rng = new Rng(7)
    // N = 13 leaves 9 idle threads in each workgroup of 19 rows; 64 fills it with 4 rows; 300 takes a row per thread.
    for (const stateDim of [13, 64, 300]) {
      const p = {batch: 3, heads: 6, groups: 3, headDim: 45, stateDim}
      const bh = p.batch * p.heads
      const inputs = [rng.floats(bh * p.headDim), decays(rng, bh), rng.floats(p.batch * p.groups * p.stateDim), rng.floats(p.batch * p.groups * p.stateDim), rng.floats(bh * p.headDim * p.stateDim)]
      await agree(ssdStep, p, inputs, [bh * p.headDim, bh * p.headDim * p.stateDim], `step N=${stateDim}`)
    }
  })
})

/** Forward and tape backward of one op on a backend; returns the output and the input gradients. */
async function forwardBackward(backend: Backend, inputs: {data: Float32Array; shape: number[]}[], op: (ts: Tensor[]) => Tensor, seed: Float32Array): Promise<HostArray[]> {
  const ts = inputs.map(({data, shape}) => fromArray(backend, data, shape))
  for (const t of ts) t.requiresGrad = true
  const {result: out} = withTape(() => op(ts))
  const grads = backward(out, ts, {seed: fromArray(backend, seed, out.shape)})
  return Promise.all([out, ...grads].map((t) => t.toArray()))
}

describe.skipIf(!gpu)('state-space ops with their backward: WebGPU vs CPU', () => {
  async function compare(label: string, inputs: {data: Float32Array; shape: number[]}[], op: (ts: Tensor[]) => Tensor, outputSize: number): Promise<void> {
    const seed = new Rng(99).floats(outputSize)
    const want = await forwardBackward(cpu, inputs, op, seed)
    const got = await forwardBackward(gpu!, inputs, op, seed)
    want.forEach((w, i) => expectClose(got[i], w, `${label} ${i === 0 ? 'output' : `gradient ${i - 1}`}`, {rtol: 2e-4, atol: 2e-5}))
  }

  it('ssdChunked with an initial state (T = 45, Q = 16)', async () => {
    const rng = new Rng(8)
    const [b, t, h, p, g, n] = [2, 45, 4, 9, 2, 7]
    const inputs = [
      {data: rng.floats(b * t * h * p), shape: [b, t, h, p]},
      {data: decays(rng, b * t * h), shape: [b, t, h]},
      {data: rng.floats(b * t * g * n), shape: [b, t, g, n]},
      {data: rng.floats(b * t * g * n), shape: [b, t, g, n]},
      {data: rng.floats(b * h * p * n), shape: [b, h, p, n]},
    ]
    await compare('ssdChunked', inputs, ([x, dA, B, C, h0]) => ssm.ssdChunked(x, dA, B, C, {chunk: 16, initialState: h0}).y, b * t * h * p)
  })

  it('ssdMatrix, conv1d, cumsum and segsum', async () => {
    const rng = new Rng(9)
    const [b, t, h, g, n] = [2, 23, 4, 2, 5]
    const matrixInputs = [
      {data: decays(rng, b * t * h), shape: [b, t, h]},
      {data: rng.floats(b * t * g * n), shape: [b, t, g, n]},
      {data: rng.floats(b * t * g * n), shape: [b, t, g, n]},
    ]
    await compare('ssdMatrix', matrixInputs, ([dA, B, C]) => ssm.ssdMatrix(dA, B, C), b * h * t * t)
    const convInputs = [
      {data: rng.floats(b * t * 37), shape: [b, t, 37]},
      {data: rng.floats(37 * 4), shape: [37, 4]},
      {data: rng.floats(37), shape: [37]},
    ]
    await compare('conv1d', convInputs, ([x, w, bias]) => ssm.conv1d(x, w, bias), b * t * 37)
    await compare('cumsum', [{data: rng.floats(b * t * h), shape: [b, t, h]}], ([x]) => ssm.cumsum(x, 1, {reverse: true}), b * t * h)
    await compare('segsum', [{data: rng.floats(b * t * h), shape: [b, t, h]}], ([a]) => ssm.segsum(a, 1), b * h * t * t)
  })
})
