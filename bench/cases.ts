import type {Backend} from '../src/backend/backend.js'
import {attention, linear, logSoftmax, matmul, rmsnorm, rope, swiglu} from '../src/engine/ops.js'
import {fromArray, scope, type Tensor} from '../src/engine/tensor.js'
import type {BenchCase, BenchInstance} from './runner.js'

/**
 * The kernels of a forward pass at the shapes that matter. `large` is a Llama-3.2-1B layer
 * (hidden 2048, MLP 8192, 32 query / 8 key-value heads of 64) for the GPU; `small` keeps CPU
 * and llvmpipe runs to seconds.
 */
export function random(backend: Backend, shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1)
  const data = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0
    data[i] = s / 2 ** 32 - 0.5
  }
  return fromArray(backend, data, shape)
}

export function instance(shape: string, inputs: Tensor[], work: () => void, flops: number, bytes: number): BenchInstance {
  return {run: () => scope(work), shape, flops, bytes, dispose: () => inputs.forEach((t) => t.dispose())}
}

const squareMatmul = (n: {small: number; large: number}): BenchCase => ({
  name: 'matmul',
  make(backend, size) {
    const N = n[size]
    const a = random(backend, [N, N], 1)
    const b = random(backend, [N, N], 2)
    return instance(`${N}³`, [a, b], () => matmul(a, b), 2 * N ** 3, 3 * 4 * N * N)
  },
})

const linearCase = (label: string, tokens: {small: number; large: number}, inF: {small: number; large: number}, outF: {small: number; large: number}): BenchCase => ({
  name: `linear ${label}`,
  make(backend, size) {
    const [T, I, O] = [tokens[size], inF[size], outF[size]]
    const x = random(backend, [T, I], 3)
    const w = random(backend, [O, I], 4)
    return instance(`${T}x${I} -> ${O}`, [x, w], () => linear(x, w), 2 * T * I * O, 4 * (T * I + I * O + T * O))
  },
})

const attentionCase: BenchCase = {
  name: 'attention causal',
  make(backend, size) {
    const [B, T, Hq, Hkv, D] = size === 'large' ? [1, 2048, 32, 8, 64] : [1, 256, 4, 2, 64]
    const q = random(backend, [B, T, Hq, D], 5)
    const k = random(backend, [B, T, Hkv, D], 6)
    const v = random(backend, [B, T, Hkv, D], 7)
    // Causal: half the T x T scores, two matmul-like passes (QKᵀ and PV).
    const flops = 2 * 2 * B * Hq * T * T * D / 2
    return instance(`T=${T} Hq=${Hq} Hkv=${Hkv} D=${D}`, [q, k, v], () => attention(q, k, v), flops, 4 * (2 * B * T * Hq * D + 2 * B * T * Hkv * D))
  },
}

/** Row-wise kernels over [T, C] activations; `y` is a second [T, C] input or a [C] weight. */
const rowCase = (name: string, op: (x: Tensor, y: Tensor) => void, yIsRow: boolean): BenchCase => ({
  name,
  make(backend, size) {
    const [T, C] = size === 'large' ? [8192, 2048] : [512, 512]
    const x = random(backend, [T, C], 8)
    const y = random(backend, yIsRow ? [C] : [T, C], 9)
    return instance(`${T}x${C}`, [x, y], () => op(x, y), 0, 4 * (2 * T * C + y.numel))
  },
})

/** Log-softmax over a vocabulary's logits, as find-heads normalises each chunk of ablated rows (512 rows of Llama-3's 128,256). */
const logSoftmaxCase: BenchCase = {
  name: 'log-softmax rows',
  make(backend, size) {
    const [R, V] = size === 'large' ? [512, 128256] : [64, 4096]
    const x = random(backend, [R, V], 13)
    // Least traffic: the logits read once and the result written once.
    return instance(`${R}x${V}`, [x], () => logSoftmax(x), 0, 4 * 2 * R * V)
  },
}

export const FORWARD_CASES: BenchCase[] = [
  squareMatmul({small: 256, large: 2048}),
  squareMatmul({small: 1024, large: 4096}),
  linearCase('qkv', {small: 256, large: 8192}, {small: 512, large: 2048}, {small: 768, large: 3072}),
  linearCase('mlp up', {small: 256, large: 8192}, {small: 512, large: 2048}, {small: 1024, large: 8192}),
  linearCase('lm head', {small: 64, large: 2048}, {small: 512, large: 2048}, {small: 4096, large: 128256}),
  attentionCase,
  rowCase('rmsnorm', (x, w) => rmsnorm(x, w, 1e-5), true),
  rowCase('swiglu', (gate, up) => swiglu(gate, up), false),
  logSoftmaxCase,
  {
    name: 'rope',
    make(backend, size) {
      const [T, H, D] = size === 'large' ? [8192, 32, 64] : [256, 8, 64]
      const x = random(backend, [1, T, H, D], 10)
      const cos = random(backend, [T, D / 2], 11)
      const sin = random(backend, [T, D / 2], 12)
      return instance(`T=${T} H=${H} D=${D}`, [x, cos, sin], () => rope(x, cos, sin, D), 0, 4 * (2 * T * H * D + T * D))
    },
  },
]

/** n values in [-0.5, 0.5) from a seed (an LCG: the same inputs on every machine). */
export function randomArray(n: number, seed: number): Float32Array {
  const out = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0
    out[i] = s / 2 ** 32 - 0.5
  }
  return out
}
