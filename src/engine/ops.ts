import {attention as attentionKernel} from '../kernels/attention.js'
import {binary, swiglu as swigluKernel, unary, type BinaryOp, type UnaryOp} from '../kernels/elementwise.js'
import {embedding as embeddingKernel} from '../kernels/embedding.js'
import {matmul as matmulKernel} from '../kernels/matmul.js'
import {layernorm as layernormKernel, rmsnorm as rmsnormKernel} from '../kernels/norm.js'
import {rope as ropeKernel} from '../kernels/rope.js'
import {ShapeError} from '../errors.js'
import {empty, numelOf, type Tensor} from './tensor.js'

/**
 * Tensor-level ops: shape checks, output allocation, and one kernel launch each.
 * Letters: B batch, T time, C channels, V vocab, H heads, D head dim.
 */

function sameBackend(...ts: Tensor[]): void {
  for (const t of ts) {
    t.assertLive()
    if (t.backend !== ts[0].backend) throw new Error('tensors live on different backends')
  }
}

/** [..., M, K] x [..., K, N] (or [K, N] shared) -> [..., M, N], with transposes of the last two dims. */
export function matmul(a: Tensor, b: Tensor, opts: {transA?: boolean; transB?: boolean; bias?: Tensor} = {}): Tensor {
  sameBackend(a, b, ...(opts.bias ? [opts.bias] : []))
  const transA = Boolean(opts.transA)
  const transB = Boolean(opts.transB)
  if (a.rank < 2 || b.rank < 2) throw new ShapeError(`matmul needs rank >= 2, got [${a.shape}] x [${b.shape}]`)
  const [ar, ac] = a.shape.slice(-2)
  const [br, bc] = b.shape.slice(-2)
  const m = transA ? ac : ar
  const k = transA ? ar : ac
  const kb = transB ? bc : br
  const n = transB ? br : bc
  if (k !== kb) throw new ShapeError(`matmul inner dimensions differ: [${a.shape}]${transA ? 'ᵀ' : ''} x [${b.shape}]${transB ? 'ᵀ' : ''}`)
  const batchShape = a.shape.slice(0, -2)
  const batch = numelOf(batchShape)
  const bBatch = numelOf(b.shape.slice(0, -2))
  if (bBatch !== 1 && bBatch !== batch) throw new ShapeError(`matmul batch sizes differ: [${a.shape}] x [${b.shape}]`)
  if (opts.bias && opts.bias.numel !== n) throw new ShapeError(`bias of ${opts.bias.numel} values for ${n} outputs`)
  const out = empty(a.backend, [...batchShape, m, n])
  const params = {batch, m, n, k, transA, transB, broadcastB: bBatch === 1 && batch > 1, bias: Boolean(opts.bias)}
  const inputs = opts.bias ? [a.storage, b.storage, opts.bias.storage] : [a.storage, b.storage]
  a.backend.run(matmulKernel, params, inputs, [out.storage])
  return out
}

/** x [..., in] · Wᵀ + b, with W stored [out, in] as PyTorch does. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const inFeatures = weight.shape[1]
  if (x.shape.at(-1) !== inFeatures) throw new ShapeError(`linear: input has ${x.shape.at(-1)} features, weight [${weight.shape}] expects ${inFeatures}`)
  const rows = x.numel / inFeatures
  const y = matmul(x.reshape([rows, inFeatures]), weight, {transB: true, bias})
  return y.reshape([...x.shape.slice(0, -1), weight.shape[0]])
}

function binaryOp(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  sameBackend(a, b)
  if (b.numel === 0 || a.numel % b.numel !== 0) throw new ShapeError(`${op}: [${b.shape}] does not broadcast onto [${a.shape}]`)
  const out = empty(a.backend, a.shape)
  a.backend.run(binary, {op, n: a.numel, bn: b.numel}, [a.storage, b.storage], [out.storage])
  return out
}

export const add = (a: Tensor, b: Tensor): Tensor => binaryOp('add', a, b)
export const sub = (a: Tensor, b: Tensor): Tensor => binaryOp('sub', a, b)
export const mul = (a: Tensor, b: Tensor): Tensor => binaryOp('mul', a, b)

function unaryOp(op: UnaryOp, x: Tensor, alpha?: number): Tensor {
  sameBackend(x)
  const out = empty(x.backend, x.shape)
  x.backend.run(unary, {op, n: x.numel, alpha}, [x.storage], [out.storage])
  return out
}

export const silu = (x: Tensor): Tensor => unaryOp('silu', x)
export const geluNew = (x: Tensor): Tensor => unaryOp('gelu_new', x)
export const softplus = (x: Tensor): Tensor => unaryOp('softplus', x)
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x)
export const exp = (x: Tensor): Tensor => unaryOp('exp', x)
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x)
export const scale = (x: Tensor, alpha: number): Tensor => unaryOp('scale', x, alpha)

/** silu(gate) * up. */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  sameBackend(gate, up)
  if (gate.numel !== up.numel) throw new ShapeError(`swiglu: [${gate.shape}] and [${up.shape}] differ`)
  const out = empty(gate.backend, gate.shape)
  gate.backend.run(swigluKernel, {n: gate.numel}, [gate.storage, up.storage], [out.storage])
  return out
}

export function rmsnorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  sameBackend(x, weight)
  const cols = weight.numel
  if (x.shape.at(-1) !== cols) throw new ShapeError(`rmsnorm: input [${x.shape}] vs weight [${weight.shape}]`)
  const out = empty(x.backend, x.shape)
  x.backend.run(rmsnormKernel, {rows: x.numel / cols, cols, eps}, [x.storage, weight.storage], [out.storage])
  return out
}

export function layernorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  sameBackend(x, weight, bias)
  const cols = weight.numel
  if (x.shape.at(-1) !== cols) throw new ShapeError(`layernorm: input [${x.shape}] vs weight [${weight.shape}]`)
  const out = empty(x.backend, x.shape)
  x.backend.run(layernormKernel, {rows: x.numel / cols, cols, eps}, [x.storage, weight.storage, bias.storage], [out.storage])
  return out
}

/** ids [...] (i32) -> [..., dim] rows of table [vocab, dim]. */
export function embedding(ids: Tensor, table: Tensor): Tensor {
  sameBackend(ids, table)
  if (ids.dtype !== 'i32') throw new ShapeError('embedding ids must be int32')
  const [vocab, dim] = table.shape
  const out = empty(ids.backend, [...ids.shape, dim])
  ids.backend.run(embeddingKernel, {n: ids.numel, dim, vocab}, [ids.storage, table.storage], [out.storage])
  return out
}

/** x [B, T, H, D] rotated by cos/sin tables [T, rotaryDim/2]. */
export function rope(x: Tensor, cos: Tensor, sin: Tensor, rotaryDim: number, inverse = false): Tensor {
  sameBackend(x, cos, sin)
  const [batch, seq, heads, headDim] = x.shape
  if (x.rank !== 4 || cos.numel !== seq * (rotaryDim / 2) || rotaryDim > headDim || rotaryDim % 2) {
    throw new ShapeError(`rope: x [${x.shape}], tables [${cos.shape}], rotary dim ${rotaryDim}`)
  }
  const out = empty(x.backend, x.shape)
  x.backend.run(ropeKernel, {batch, seq, heads, headDim, rotaryDim, inverse}, [x.storage, cos.storage, sin.storage], [out.storage])
  return out
}

export interface AttentionOptions {
  /** [Hq] multipliers on each head's output; 0 ablates a head. */
  headMask?: Tensor
  /** Also return the attention probabilities [B, Hq, Tq, Tk]. */
  returnProbs?: boolean
  scale?: number
}

/** Causal GQA attention. q [B, Tq, Hq, D], k/v [B, Tk, Hkv, D] -> out [B, Tq, Hq, D]. */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): {out: Tensor; probs?: Tensor} {
  sameBackend(q, k, v, ...(opts.headMask ? [opts.headMask] : []))
  const [batch, tq, hq, d] = q.shape
  const [kb, tk, hkv, kd] = k.shape
  if (q.rank !== 4 || k.rank !== 4 || kb !== batch || kd !== d || hq % hkv !== 0 || tk < tq || v.numel !== k.numel) {
    throw new ShapeError(`attention: q [${q.shape}], k [${k.shape}], v [${v.shape}]`)
  }
  if (opts.headMask && opts.headMask.numel !== hq) throw new ShapeError(`attention: head mask of ${opts.headMask.numel} for ${hq} heads`)
  const out = empty(q.backend, q.shape)
  const probs = opts.returnProbs ? empty(q.backend, [batch, hq, tq, tk]) : undefined
  const params = {batch, tq, tk, hq, hkv, d, scale: opts.scale ?? 1 / Math.sqrt(d), headMask: Boolean(opts.headMask), returnProbs: Boolean(probs)}
  const inputs = [q.storage, k.storage, v.storage, ...(opts.headMask ? [opts.headMask.storage] : [])]
  q.backend.run(attentionKernel, params, inputs, [out.storage, ...(probs ? [probs.storage] : [])])
  return {out, probs}
}
