import type {Backend} from '../src/backend/backend.js'
import {backward, withTape} from '../src/engine/autograd.js'
import {concat, split} from '../src/engine/layout-ops.js'
import {attention, linear, scale} from '../src/engine/ops.js'
import {withPrecision} from '../src/engine/precision.js'
import {ssdChunked} from '../src/engine/ssm-ops.js'
import {empty, type Tensor} from '../src/engine/tensor.js'
import {castF16, packedWords} from '../src/kernels/f16.js'
import {matmulF16, tensorCoreSupport} from '../src/kernels/matmul-f16.js'
import {instance, random} from './cases.js'
import {MATMUL_SHAPE_CASES} from './matmul-shapes.js'
import type {BenchCase} from './runner.js'

/**
 * Cases past the forward kernels: attention forward + backward, the chunked SSD scan forward and
 * forward + backward (Mamba-2 shapes), and the f16 matmul on tensor cores where the device has
 * them. Names match bench/peer_torch.py's.
 */

/** `out` of `fn(inputs)` under a tape, then the gradients of `inputs` for a fixed output gradient. */
function forwardBackward(inputs: Tensor[], gradOut: Tensor, fn: (inputs: Tensor[]) => Tensor): () => void {
  return () => {
    for (const t of inputs) t.requiresGrad = true
    const {result} = withTape(() => fn(inputs))
    backward(result, inputs, {seed: gradOut})
  }
}

const attentionBackwardCase: BenchCase = {
  name: 'attention fwd+bwd causal',
  make(backend, size) {
    const [B, T, Hq, Hkv, D] = size === 'large' ? [1, 2048, 32, 8, 64] : [1, 128, 4, 2, 64]
    const q = random(backend, [B, T, Hq, D], 21)
    const k = random(backend, [B, T, Hkv, D], 22)
    const v = random(backend, [B, T, Hkv, D], 23)
    const gy = random(backend, [B, T, Hq, D], 24)
    // Forward 2 matmul-like passes over half the T×T scores; backward recomputes the scores twice (stats, dq / dk) and does 4 more.
    const flops = (2 + 7) * 2 * B * Hq * T * T * D / 2
    const run = forwardBackward([q, k, v], gy, ([qs, ks, vs]) => attention(qs, ks, vs).out)
    return instance(`T=${T} Hq=${Hq} Hkv=${Hkv} D=${D}`, [q, k, v, gy], run, flops, 4 * (4 * B * T * Hq * D + 4 * B * T * Hkv * D))
  },
}

/** Mamba-2 SSD shapes: batch 8, 2048 steps, 32 heads of 64, one B/C group of `state`, chunks of 64 (smaller with --size small). */
function ssdCase(state: number, withBackward: boolean): BenchCase {
  return {
    name: `ssd chunked ${withBackward ? 'fwd+bwd' : 'fwd'}`,
    make(backend, size) {
      // At the small size the state is a quarter as large too, so the two cases stay apart (16 and 4).
      const [Bt, T, H, P, G, N, Q] = size === 'large' ? [8, 2048, 32, 64, 1, state, 64] : [1, 128, 4, 16, 1, state / 4, 32]
      const x = random(backend, [Bt, T, H, P], 31)
      // Log-decays within ±0.05 a step.
      const dA = scale(random(backend, [Bt, T, H], 32), 0.1)
      const B = random(backend, [Bt, T, G, N], 33)
      const C = random(backend, [Bt, T, G, N], 34)
      const dy = random(backend, [Bt, T, H, P], 35)
      const chunked = (ins: Tensor[]): Tensor => ssdChunked(ins[0], ins[1], ins[2], ins[3], {chunk: Q}).y
      const run = withBackward ? forwardBackward([x, dA, B, C], dy, chunked) : () => void chunked([x, dA, B, C])
      // SSD's chunked form (arXiv 2405.21060): 2T(QN + QP + 2NP) per head forward; the backward is about twice that.
      const flops = (withBackward ? 3 : 1) * Bt * H * 2 * T * (Q * N + Q * P + 2 * N * P)
      const bytes = 4 * ((withBackward ? 4 : 2) * Bt * T * H * P + (withBackward ? 4 : 2) * Bt * T * G * N + Bt * T * H)
      return instance(`B=${Bt} T=${T} H=${H} P=${P} N=${N} Q=${Q}`, [x, dA, B, C, dy], run, flops, bytes)
    },
  }
}

/**
 * A discrete Mamba-2 layer's in_proj output of the 1B hybrid (4 x 2048 tokens; conv 6144 = x 2048 + B, C 2 x 2048, z 2048,
 * 32 heads' A) split into its parts and joined again in another order, forward and backward: each part gathered once and
 * copied into its place once, both ways (layout-ops.ts's split and concat).
 */
const splitCase: BenchCase = {
  name: 'split+concat fwd+bwd',
  make(backend, size) {
    const [T, parts] = size === 'large' ? [8192, [6144, 2048, 32]] : [512, [384, 128, 8]]
    const width = parts.reduce((a, b) => a + b, 0)
    const x = random(backend, [T, width], 51)
    const gy = random(backend, [T, width], 52)
    const run = forwardBackward([x], gy, ([xs]) => {
      const [conv, z, a] = split(xs, 1, parts)
      return concat([z, a, conv], 1)
    })
    // Four passes (split, concat, and their backwards), each reading and writing the whole tensor.
    return instance(`${T}x${width} -> [${parts}]`, [x, gy], run, 0, 4 * 2 * 4 * T * width)
  },
}

/**
 * A mixed-precision linear layer forward and backward (f16 operands, f32 sums; the weight's f16
 * copy made once, half-weight-cache.ts), at the 1B model's MLP up projection: what autocast runs.
 */
const mixedLinearCase: BenchCase = {
  name: 'linear mixed fwd+bwd',
  make(backend, size) {
    const [T, I, O] = size === 'large' ? [8192, 2048, 8192] : [256, 512, 1024]
    const x = random(backend, [T, I], 53)
    const w = random(backend, [O, I], 54)
    const gy = random(backend, [T, O], 55)
    const run = forwardBackward([x, w], gy, ([xs, ws]) => withPrecision('mixed', () => linear(xs, ws)))
    return instance(`${T}x${I} -> ${O}`, [x, w, gy], run, 3 * 2 * T * I * O, 2 * (3 * T * I + 3 * I * O + 3 * T * O))
  },
}

/**
 * The f16-input matmul (tensor cores where `tensorCoreSupport` finds them, else CUDA cores); the
 * operands are cast to f16 once, outside the timing, as the peer's bf16 operands are.
 */
const matmulF16Case: BenchCase = {
  name: 'matmul f16',
  make(backend: Backend, size) {
    const n = size === 'large' ? 4096 : 256
    const [a, b] = [random(backend, [n, n], 41), random(backend, [n, n], 42)]
    const halves = [a, b].map((t) => {
      const packed = empty(backend, [packedWords(t.numel)], 'i32')
      backend.run(castF16, {n: t.numel}, [t.storage], [packed.storage])
      return packed
    })
    const tensorCores = tensorCoreSupport(backend)
    const run = (): void => {
      const c = empty(backend, [n, n])
      backend.run(matmulF16, {m: n, n, k: n, transB: false, tensorCores}, halves.map((h) => h.storage), [c.storage])
    }
    return instance(`${n}³`, [a, b, ...halves], run, 2 * n ** 3, 2 * 2 * n * n + 4 * n * n)
  },
}

export const TRAINING_CASES: BenchCase[] = [attentionBackwardCase, ssdCase(64, false), ssdCase(16, false), ssdCase(64, true), ssdCase(16, true), splitCase]

/** Last in a run: an experimental feature that could lose the device must not cost the other numbers. */
export const F16_CASES: BenchCase[] = [matmulF16Case, mixedLinearCase, ...MATMUL_SHAPE_CASES]
