import {attention as attentionKernel} from '../kernels/attention.js'
import {attentionBackwardDkv, attentionBackwardDq, attentionBackwardStats} from '../kernels/backward/attention-backward.js'
import {swigluBackward, unaryBackward} from '../kernels/backward/elementwise-backward.js'
import {embeddingBackward} from '../kernels/backward/embedding-backward.js'
import {layernormBackward, rmsnormBackward} from '../kernels/backward/norm-backward.js'
import {binary, swiglu as swigluKernel, unary, type BinaryOp, type UnaryOp} from '../kernels/elementwise.js'
import {embedding as embeddingKernel} from '../kernels/embedding.js'
import type {HalfDType, Kernel} from '../kernels/kernel.js'
import {packedWords} from '../kernels/f16.js'
import {matmul as matmulKernel} from '../kernels/matmul.js'
import {matmulF16, tensorCoreMultiple, tensorCoreSupport} from '../kernels/matmul-f16.js'
import {ROWS_VERSION_MAX_M} from '../kernels/matmul-wgsl.js'
import {layernorm as layernormKernel, rmsnorm as rmsnormKernel} from '../kernels/norm.js'
import {broadcastAxis, rowNorm, rowNormBackward, sumAxis} from '../kernels/reduce.js'
import {rope as ropeKernel} from '../kernels/rope.js'
import {packF16Exact, roundF16} from '../kernels/round-f16.js'
import {absMaxRows, cropRangeScale, rangeScale} from '../kernels/f16-range.js'
import {logSoftmaxRows} from '../kernels/log-softmax.js'
import {stridedCopy} from '../kernels/strided-copy.js'
import {widenHalf} from '../kernels/widen-half.js'
import {ShapeError} from '../errors.js'
import {needsGrad, noGrad, record} from './autograd.js'
import {cachedHalfWeight} from './half-weight-cache.js'
import {decoding, matmulPrecision} from './precision.js'
import {empty, numelOf, type Tensor} from './tensor.js'

/**
 * Tensor-level ops: shape checks, output allocation, one kernel launch each, and, when an input
 * wants a gradient, the op's backward recorded on the autograd tape (autograd.ts). A backward
 * uses the tape's views of the inputs (`ctx.inputs`), never the tensors captured at call time.
 * Letters: B batch, T time, C channels, V vocab, H heads, D head dim.
 */

function sameBackend(...ts: Tensor[]): void {
  for (const t of ts) {
    t.assertLive()
    if (t.backend !== ts[0].backend) throw new Error('tensors live on different backends')
  }
}

/**
 * Half-precision tensors are weights that only matmul's B and the embedding table read (they pass
 * the dtype to their kernel); any other kernel would read their packed bits as f32.
 */
function assertNotHalf(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype === 'bf16' || t.dtype === 'f16') throw new ShapeError(`${op}: a ${t.dtype} tensor [${t.shape}] can only be a matmul's right operand or an embedding table`)
}

const halfDtypeOf = (t: Tensor): HalfDType | undefined => (t.dtype === 'bf16' || t.dtype === 'f16' ? t.dtype : undefined)

/** Run `kernel` into fresh outputs of the given shapes. */
function launch<P>(kernel: Kernel<P>, params: P, inputs: Tensor[], shapes: (readonly number[])[]): Tensor[] {
  assertNotHalf(kernel.name, ...inputs)
  return launchWithHalves(kernel, params, inputs, shapes)
}

/** `launch` for a kernel told which of its inputs are half precision (matmul's B, matmul_f16's packed weight). */
function launchWithHalves<P>(kernel: Kernel<P>, params: P, inputs: Tensor[], shapes: (readonly number[])[]): Tensor[] {
  const outs = shapes.map((s) => empty(inputs[0].backend, s))
  inputs[0].backend.run(kernel, params, inputs.map((t) => t.storage), outs.map((t) => t.storage))
  return outs
}

// ---- matmul -----------------------------------------------------------------------------

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
  assertNotHalf('matmul', a, ...(opts.bias ? [opts.bias] : []))
  const out = empty(a.backend, [...batchShape, m, n])
  const broadcastB = bBatch === 1 && batch > 1
  const bDtype = halfDtypeOf(b)
  const params = {batch, m, n, k, transA, transB, broadcastB, bias: Boolean(opts.bias), ...(bDtype && {bDtype})}
  const inputs = opts.bias ? [a, b, opts.bias] : [a, b]
  a.backend.run(matmulKernel, params, inputs.map((t) => t.storage), [out.storage])
  if (needsGrad(inputs)) {
    record(inputs, [out], ([g], {inputs: [as, bs], needs}) => [
      needs[0] ? matmulGradA(as, bs, g!, transA, transB, broadcastB) : undefined,
      needs[1] ? matmulGradB(as, bs, g!, transA, transB, broadcastB) : undefined,
      needs[2] ? sumOver(g!, 1, batch * m, n) : undefined,
    ])
  }
  return out
}

/** d op(A) = G · op(B)ᵀ, transposed back when A was used transposed. */
function matmulGradA(a: Tensor, b: Tensor, g: Tensor, transA: boolean, transB: boolean, broadcastB: boolean): Tensor {
  if (!transA) return matmul(g, b, {transB: !transB})
  // A shared B cannot be the left operand of a batched matmul: repeat it over the batch.
  const bFull = broadcastB ? repeat(b, numelOf(a.shape.slice(0, -2))).reshape([...a.shape.slice(0, -2), ...b.shape.slice(-2)]) : b
  return matmul(bFull, g, {transA: transB, transB: true})
}

/** d op(B) = op(A)ᵀ · G, summed over the batch when B is shared. */
function matmulGradB(a: Tensor, b: Tensor, g: Tensor, transA: boolean, transB: boolean, broadcastB: boolean): Tensor {
  if (broadcastB && !transA) {
    // Fold the batch into the rows: one matmul sums over it.
    const a2 = a.reshape([-1, a.shape.at(-1)!])
    const g2 = g.reshape([-1, g.shape.at(-1)!])
    return (transB ? matmul(g2, a2, {transA: true}) : matmul(a2, g2, {transA: true})).reshape(b.shape)
  }
  const perBatch = transB ? matmul(g, a, {transA: true, transB: transA}) : matmul(a, g, {transA: !transA})
  if (!broadcastB) return perBatch.reshape(b.shape)
  const summed = sumOver(perBatch, 1, perBatch.numel / b.numel, b.numel).reshape(b.shape)
  perBatch.dispose()
  return summed
}

/** x [..., in] · Wᵀ + b, with W stored [out, in] as PyTorch does. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const inFeatures = weight.shape[1]
  if (x.shape.at(-1) !== inFeatures) throw new ShapeError(`linear: input has ${x.shape.at(-1)} features, weight [${weight.shape}] expects ${inFeatures}`)
  const rows = x.numel / inFeatures
  const x2 = x.reshape([rows, inFeatures])
  const y = matmulPrecision() === 'mixed' ? halfLinear(x2, weight, bias) : matmul(x2, weight, {transB: true, bias})
  return y.reshape([...x.shape.slice(0, -1), weight.shape[0]])
}

/**
 * Mixed precision (precision.ts): x [M, K] · Wᵀ + b with x and W rounded to f16 and the products
 * summed in f32, as torch.autocast runs a linear layer; the backward rounds the output gradient,
 * x and W to f16 as well (under autocast the gradient reaching the layer is f16), so that a
 * gradient beyond f16's range becomes inf there, which loss scaling (train/loss-scaler.ts) turns
 * into a skipped step. The input x, an activation, is kept inside f16's range instead (f16-range.ts):
 * an attention-started SSM's output can pass 65504 where f32 trains on. The activations' and
 * gradients' rounded copies are made again in the backward rather than kept; the weight's is made
 * once per version of the weight (half-weight-cache.ts).
 */
function halfLinear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  sameBackend(x, weight, ...(bias ? [bias] : []))
  const [m] = x.shape
  const n = weight.shape[0]
  if (bias && bias.numel !== n) throw new ShapeError(`bias of ${bias.numel} values for ${n} outputs`)
  const inputs = bias ? [x, weight, bias] : [x, weight]
  if (decoding() && m <= ROWS_VERSION_MAX_M && !needsGrad(inputs)) return fewRowsHalfLinear(x, weight, bias)
  const y = noGrad(() => {
    const product = halfMatmul(x, weight, {transB: true, weightB: true, activation: 'a'})
    if (!bias) return product
    const biased = add(product, bias)
    product.dispose()
    return biased
  })
  if (needsGrad(inputs)) {
    record(inputs, [y], ([g], {inputs: [xs, ws], needs}) => [
      needs[0] ? halfMatmul(g!, ws, {weightB: true}) : undefined,
      needs[1] ? halfMatmul(g!, xs, {transA: true, activation: 'b'}) : undefined,
      needs[2] ? sumOver(g!, 1, m, n) : undefined,
    ])
  }
  return y
}

/**
 * A decode step's mixed linear (precision.ts#decoding): a few rows (one per sequence), no gradient.
 * Reading the weight is the step's cost there, and the tensor cores would pad the rows to a whole
 * tile, so matmul's few-rows version (matmul-rows.ts) reads the weight's f16 copy (half-weight-cache.ts;
 * a weight held in bf16 or f16 as it is, never widened) and x in f32: x is not rounded, so it needs no
 * range guard, and the sums are as close to f32's as the weight's rounding allows.
 */
function fewRowsHalfLinear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const w = halfDtypeOf(weight) ? weight : halfWeight(weight)
  return matmul(x, w, {transB: true, bias})
}

/**
 * op(A) · op(B) of 2-D f32 tensors with both operands rounded to f16 and f32 accumulation
 * (halfProduct; `weightB` as there). `activation` names the operand that is an activation, kept inside f16's range by
 * a power of two found on the device (f16-range.ts), the product scaled back; a gradient operand
 * is rounded as it is, so that its overflow shows.
 */
function halfMatmul(a: Tensor, b: Tensor, {transA = false, transB = false, weightB = false, activation}: {transA?: boolean; transB?: boolean; weightB?: boolean; activation?: 'a' | 'b'}): Tensor {
  if (!activation) return halfProduct(a, b, transA, transB, weightB)
  if (activation === 'b' && weightB) throw new Error('halfMatmul: B is either a weight or an activation')
  const m = absMax(activation === 'a' ? a : b)
  const out = halfProduct(a, b, transA, transB, weightB, {operand: activation, m})
  m.dispose()
  return out
}

/** The largest magnitude in t, [1], on the device: per chunk of ABS_MAX_CHUNK values, then over the chunks. */
function absMax(t: Tensor): Tensor {
  const rows = Math.ceil(t.numel / ABS_MAX_CHUNK)
  const [partial] = launch(absMaxRows, {n: t.numel, rows, cols: ABS_MAX_CHUNK}, [t], [[rows]])
  if (rows === 1) return partial
  const [total] = launch(absMaxRows, {n: rows, rows: 1, cols: rows}, [partial], [[1]])
  partial.dispose()
  return total
}

const ABS_MAX_CHUNK = 16384

/** An operand of halfProduct to take into f16's range by 2^-rangeExponent(m), the product scaled back by 2^rangeExponent(m). */
interface RangedOperand {
  operand: 'a' | 'b'
  m: Tensor
}

/**
 * halfMatmul's product of the operands as they are, rounded to f16, summed in f32. With
 * tensor cores (matmul-f16.ts's `tensorCoreSupport`: a WebGPU device with shader-f16 and subgroup
 * matrices) the operands are packed to halves for matmul_f16, a transposed A read upright by the
 * packing (that kernel takes only Bᵀ), both padded with zeros to whole tiles in M, N and K so that
 * the fast staged kernel runs on any shape (matmul-f16.ts#tensorCoreMultiple), the padding's rows
 * and columns cut from the result; a `ranged` operand is scaled inside the packing and the product
 * scaled back inside the crop (each the same bits as a separate pass). Elsewhere (the CPU, llvmpipe)
 * the rounded values go through the f32 matmul, whose products of two halves are exact in f32: the
 * same function, summed in another order.
 * `weightB`: B is a layer's weight, whose half copy is kept until the weight changes (half-weight-cache.ts);
 * a weight held in bf16 or f16 (--dtype) is widened to f32 first, once, and rounded from there. On tensor
 * cores that copy is the f16 matrix the few-rows path reads (`halfWeight`) wherever no padding is needed.
 * Exported for bench/matmul-shapes.ts.
 */
export function halfProduct(a: Tensor, b: Tensor, transA: boolean, transB: boolean, weightB: boolean, ranged?: RangedOperand): Tensor {
  const [ar, ac] = a.shape
  const [br, bc] = b.shape
  const [m, k, n] = [transA ? ac : ar, transA ? ar : ac, transB ? br : bc]
  const tensorCores = tensorCoreSupport(a.backend)
  const multiple = tensorCores && tensorCoreMultiple(tensorCores)
  if (!multiple) return roundedProduct(a, b, {m, n, k, transA, transB}, weightB, ranged)
  const scale = (operand: 'a' | 'b'): Tensor | undefined => (ranged?.operand === operand ? ranged.m : undefined)
  const bh = weightB ? halfWeight(b, multiple) : packedOperand(b, multiple, {scale: scale('b')})
  const ah = packedOperand(a, multiple, {transposed: transA, scale: scale('a')})
  const [mp, np, kp] = [m, n, k].map((d) => roundUp(d, multiple))
  const [padded] = launchWithHalves(matmulF16, {m: mp, n: np, k: kp, transB, tensorCores}, [ah, bh], [[mp, np]])
  ah.dispose()
  if (!weightB) bh.dispose()
  // The rows and columns of the padding are cut off, the range scaling undone (one pass; none where neither is needed).
  let c = padded
  if (ranged) c = launch(cropRangeScale, {rows: m, cols: n, paddedCols: np}, [padded, ranged.m], [[m, n]])[0]
  else if (mp !== m || np !== n) c = launch(stridedCopy, {shape: [m, n], strides: [np, 1], offset: 0}, [padded], [[m, n]])[0]
  if (c !== padded) padded.dispose()
  return c
}

/** halfProduct without tensor cores: operands rounded to f16 values in f32, the f32 matmul, the range scaling as separate passes. */
function roundedProduct(a: Tensor, b: Tensor, shape: {m: number; n: number; k: number; transA: boolean; transB: boolean}, weightB: boolean, ranged?: RangedOperand): Tensor {
  const round = (t: Tensor): Tensor => launch(roundF16, {n: t.numel}, [t], [t.shape])[0]
  const inRange = (t: Tensor): Tensor => launch(rangeScale, {n: t.numel, direction: -1}, [t, ranged!.m], [t.shape])[0]
  const roundMaybeRanged = (t: Tensor, operand: 'a' | 'b'): Tensor => {
    if (ranged?.operand !== operand) return round(t)
    const scaled = inRange(t)
    const rounded = round(scaled)
    scaled.dispose()
    return rounded
  }
  const bh = weightB ? cachedHalfWeight(b, 'f32 rounded to f16', (w) => withWidened(w, round)) : roundMaybeRanged(b, 'b')
  const ah = roundMaybeRanged(a, 'a')
  const [c] = launch(matmulKernel, {batch: 1, ...shape, broadcastB: false, bias: false}, [ah, bh], [[shape.m, shape.n]])
  ah.dispose()
  if (!weightB) bh.dispose()
  if (!ranged) return c
  const [out] = launch(rangeScale, {n: c.numel, direction: 1}, [c, ranged.m], [c.shape])
  c.dispose()
  return out
}

const roundUp = (x: number, multiple: number): number => Math.ceil(x / multiple) * multiple

/** `make` of a weight's f32 values: a bf16 or f16 weight is widened for it (a temporary). */
function withWidened(w: Tensor, make: (t: Tensor) => Tensor): Tensor {
  const dtype = halfDtypeOf(w)
  if (!dtype) return make(w)
  const wide = empty(w.backend, w.shape)
  w.backend.run(widenHalf, {n: w.numel, dtype}, [w.storage], [wide.storage])
  const made = make(wide)
  wide.dispose()
  return made
}

/**
 * A weight [N, K]'s f16 copy (storage dtype f16), kept until the weight changes (half-weight-cache.ts):
 * the matrix matmul's few-rows version reads, or with `multiple` (tensor cores) the same zero-padded to
 * whole tiles in both dimensions for matmul_f16, one copy serving both where the sizes are whole tiles.
 */
function halfWeight(w: Tensor, multiple?: number): Tensor {
  const [rows, cols] = w.shape
  const [paddedRows, paddedCols] = multiple ? [roundUp(rows, multiple), roundUp(cols, multiple)] : [rows, cols]
  const layout = paddedRows === rows && paddedCols === cols ? 'f16' : `f16 padded to ${multiple}`
  return cachedHalfWeight(w, layout, (weight) =>
    withWidened(weight, (wide) => {
      const copy = empty(w.backend, [paddedRows, paddedCols], 'f16')
      w.backend.run(packF16Exact, {rows, cols, paddedRows, paddedCols}, [wide.storage], [copy.storage])
      return copy
    }),
  )
}

interface PackOptions {
  /** t is stored transposed: its upright [rows, cols] is t's [cols, rows] read across. */
  transposed?: boolean
  /** m [1]: t taken into f16's range by 2^-rangeExponent(m) as it is packed. */
  scale?: Tensor
}

/** A tensor-core operand: packed halves for matmul_f16, the upright 2-D matrix padded with zeros to `multiple` in both dimensions. */
function packedOperand(t: Tensor, multiple: number, {transposed = false, scale}: PackOptions = {}): Tensor {
  const [rows, cols] = transposed ? [t.shape[1], t.shape[0]] : t.shape
  const [paddedRows, paddedCols] = [rows, cols].map((d) => roundUp(d, multiple))
  const packed = empty(t.backend, [packedWords(paddedRows * paddedCols)], 'i32')
  const params = {rows, cols, paddedRows, paddedCols, transposed, scaled: scale !== undefined}
  t.backend.run(packF16Exact, params, scale ? [t.storage, scale.storage] : [t.storage], [packed.storage])
  return packed
}

// ---- elementwise ------------------------------------------------------------------------

function binaryOp(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  sameBackend(a, b)
  if (b.numel === 0 || a.numel % b.numel !== 0) throw new ShapeError(`${op}: [${b.shape}] does not broadcast onto [${a.shape}]`)
  const [out] = launch(binary, {op, n: a.numel, bn: b.numel}, [a, b], [a.shape])
  if (needsGrad([a, b])) {
    record([a, b], [out], ([g], {inputs: [as, bs], needs}) => {
      const da = !needs[0] ? undefined : op === 'mul' ? mul(g!, bs) : g
      // b's gradient sums over the leading copies it was broadcast across; one of a's size takes
      // the product, or the gradient itself, without a copy (the tape takes views of what it gets).
      const broadcast = a.numel !== b.numel
      const reduceB = (t: Tensor, sign: number): Tensor => sumOver(t, 1, a.numel / b.numel, b.numel, sign)
      let db: Tensor | undefined
      if (needs[1] && op === 'mul') {
        const prod = mul(g!, as)
        db = broadcast ? reduceB(prod, 1) : prod
        if (broadcast) prod.dispose()
      } else if (needs[1]) {
        db = op === 'add' && !broadcast ? g : reduceB(g!, op === 'sub' ? -1 : 1)
      }
      return [da, db]
    })
  }
  return out
}

/** Elementwise a (op) b, with b repeated along a's leading dimensions when smaller. */
export const add = (a: Tensor, b: Tensor): Tensor => binaryOp('add', a, b)
export const sub = (a: Tensor, b: Tensor): Tensor => binaryOp('sub', a, b)
export const mul = (a: Tensor, b: Tensor): Tensor => binaryOp('mul', a, b)

function unaryOp(op: UnaryOp, x: Tensor, alpha?: number): Tensor {
  sameBackend(x)
  const [out] = launch(unary, {op, n: x.numel, alpha}, [x], [x.shape])
  if (needsGrad([x])) {
    record([x], [out], ([g], {inputs: [xs]}) => launch(unaryBackward, {op, n: x.numel, alpha}, [xs, g!], [x.shape]))
  }
  return out
}

export const silu = (x: Tensor): Tensor => unaryOp('silu', x)
export const geluNew = (x: Tensor): Tensor => unaryOp('gelu_new', x)
export const softplus = (x: Tensor): Tensor => unaryOp('softplus', x)
/** −softplus(x) in one kernel (a discrete Mamba-2 head's log-decay). */
export const negSoftplus = (x: Tensor): Tensor => unaryOp('neg_softplus', x)
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x)
export const exp = (x: Tensor): Tensor => unaryOp('exp', x)
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x)
export const neg = (x: Tensor): Tensor => unaryOp('neg', x)
export const scale = (x: Tensor, alpha: number): Tensor => unaryOp('scale', x, alpha)

/** silu(gate) * up. */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  sameBackend(gate, up)
  if (gate.numel !== up.numel) throw new ShapeError(`swiglu: [${gate.shape}] and [${up.shape}] differ`)
  const [out] = launch(swigluKernel, {n: gate.numel}, [gate, up], [gate.shape])
  if (needsGrad([gate, up])) {
    record([gate, up], [out], ([g], {inputs: [gs, us]}) => launch(swigluBackward, {n: gate.numel}, [gs, us, g!], [gate.shape, up.shape]))
  }
  return out
}

// ---- norms ------------------------------------------------------------------------------

export function rmsnorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  sameBackend(x, weight)
  const cols = weight.numel
  if (x.shape.at(-1) !== cols) throw new ShapeError(`rmsnorm: input [${x.shape}] vs weight [${weight.shape}]`)
  const p = {rows: x.numel / cols, cols, eps}
  const [out] = launch(rmsnormKernel, p, [x, weight], [x.shape])
  if (needsGrad([x, weight])) {
    record([x, weight], [out], ([g], {inputs: [xs, ws], needs}) => {
      const [dx, gyXhat] = launch(rmsnormBackward, p, [xs, ws, g!], [x.shape, x.shape])
      const dw = needs[1] ? sumOver(gyXhat, 1, p.rows, cols) : undefined
      gyXhat.dispose()
      return [dx, dw]
    })
  }
  return out
}

export function layernorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  sameBackend(x, weight, bias)
  const cols = weight.numel
  if (x.shape.at(-1) !== cols) throw new ShapeError(`layernorm: input [${x.shape}] vs weight [${weight.shape}]`)
  const p = {rows: x.numel / cols, cols, eps}
  const [out] = launch(layernormKernel, p, [x, weight, bias], [x.shape])
  if (needsGrad([x, weight, bias])) {
    record([x, weight, bias], [out], ([g], {inputs: [xs, ws], needs}) => {
      const [dx, gyXhat] = launch(layernormBackward, p, [xs, ws, g!], [x.shape, x.shape])
      const dw = needs[1] ? sumOver(gyXhat, 1, p.rows, cols) : undefined
      gyXhat.dispose()
      return [dx, dw, needs[2] ? sumOver(g!, 1, p.rows, cols) : undefined]
    })
  }
  return out
}

// ---- embedding, rope, attention ---------------------------------------------------------

/** ids [...] (i32) -> [..., dim] rows of table [vocab, dim]. */
export function embedding(ids: Tensor, table: Tensor): Tensor {
  sameBackend(ids, table)
  if (ids.dtype !== 'i32') throw new ShapeError('embedding ids must be int32')
  const [vocab, dim] = table.shape
  const tableDtype = halfDtypeOf(table)
  const p = {n: ids.numel, dim, vocab, ...(tableDtype && {tableDtype})}
  const out = empty(ids.backend, [...ids.shape, dim])
  ids.backend.run(embeddingKernel, p, [ids.storage, table.storage], [out.storage])
  if (needsGrad([table])) {
    record([ids, table], [out], ([g], {inputs: [is]}) => [undefined, ...launch(embeddingBackward, p, [is, g!], [table.shape])])
  }
  return out
}

/** x [B, T, H, D] rotated by cos/sin tables [T, rotaryDim/2]; the tables take no gradient. */
export function rope(x: Tensor, cos: Tensor, sin: Tensor, rotaryDim: number, inverse = false): Tensor {
  sameBackend(x, cos, sin)
  const [batch, seq, heads, headDim] = x.shape
  if (x.rank !== 4 || cos.numel !== seq * (rotaryDim / 2) || rotaryDim > headDim || rotaryDim % 2) {
    throw new ShapeError(`rope: x [${x.shape}], tables [${cos.shape}], rotary dim ${rotaryDim}`)
  }
  const [out] = launch(ropeKernel, {batch, seq, heads, headDim, rotaryDim, inverse}, [x, cos, sin], [x.shape])
  if (needsGrad([x])) {
    // A rotation's transpose is the rotation by the opposite angle.
    record([x, cos, sin], [out], ([g], {inputs: [, cs, ss]}) => [rope(g!, cs, ss, rotaryDim, !inverse)])
  }
  return out
}

export interface AttentionOptions {
  /** [Hq] multipliers on each head's output; 0 ablates a head. A constant: it takes no gradient. */
  headMask?: Tensor
  /** Also return the attention probabilities [B, Hq, Tq, Tk] (not differentiable). */
  returnProbs?: boolean
  scale?: number
}

/** Causal GQA attention. q [B, Tq, Hq, D], k/v [B, Tk, Hkv, D] -> out [B, Tq, Hq, D]. */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): {out: Tensor; probs?: Tensor} {
  const mask = opts.headMask ? [opts.headMask] : []
  sameBackend(q, k, v, ...mask)
  const [batch, tq, hq, d] = q.shape
  const [kb, tk, hkv, kd] = k.shape
  if (q.rank !== 4 || k.rank !== 4 || kb !== batch || kd !== d || hq % hkv !== 0 || tk < tq || v.numel !== k.numel) {
    throw new ShapeError(`attention: q [${q.shape}], k [${k.shape}], v [${v.shape}]`)
  }
  if (opts.headMask && opts.headMask.numel !== hq) throw new ShapeError(`attention: head mask of ${opts.headMask.numel} for ${hq} heads`)
  const out = empty(q.backend, q.shape)
  const probs = opts.returnProbs ? empty(q.backend, [batch, hq, tq, tk]) : undefined
  const p = {batch, tq, tk, hq, hkv, d, scale: opts.scale ?? 1 / Math.sqrt(d), headMask: Boolean(opts.headMask)}
  const inputs = [q, k, v, ...mask]
  q.backend.run(attentionKernel, {...p, returnProbs: Boolean(probs)}, inputs.map((t) => t.storage), [out.storage, ...(probs ? [probs.storage] : [])])
  if (needsGrad([q, k, v])) {
    record(inputs, [out], ([g], {inputs: [qs, ks, vs, ms], outputs: [os]}) => {
      const [stats] = launch(attentionBackwardStats, p, [qs, ks, os, g!], [[batch, hq, tq, 2]])
      const rest = [qs, ks, vs, g!, stats, ...(ms ? [ms] : [])]
      const [dq] = launch(attentionBackwardDq, p, rest, [q.shape])
      const [dk, dv] = launch(attentionBackwardDkv, p, rest, [k.shape, v.shape])
      stats.dispose()
      return [dq, dk, dv]
    })
  }
  return {out, probs}
}

// ---- reductions -------------------------------------------------------------------------

/** x viewed as [outer, n, inner] -> [outer, inner], summed over n and multiplied by `factor`. */
function sumOver(x: Tensor, outer: number, n: number, inner: number, factor = 1): Tensor {
  const [out] = launch(sumAxis, {outer, n, inner, scale: factor}, [x], [[outer, inner]])
  return out
}

function reduceOp(x: Tensor, dim: number | undefined, factor: (n: number) => number): Tensor {
  sameBackend(x)
  const axis = dim === undefined ? undefined : dim < 0 ? x.rank + dim : dim
  if (axis !== undefined && (axis < 0 || axis >= x.rank)) throw new ShapeError(`reduce over dim ${dim} of [${x.shape}]`)
  const outer = axis === undefined ? 1 : numelOf(x.shape.slice(0, axis))
  const n = axis === undefined ? x.numel : x.shape[axis]
  const inner = axis === undefined ? 1 : numelOf(x.shape.slice(axis + 1))
  const shape = axis === undefined ? [] : x.shape.filter((_, i) => i !== axis)
  const p = {outer, n, inner, scale: factor(n)}
  const [out] = launch(sumAxis, p, [x], [shape])
  if (needsGrad([x])) record([x], [out], ([g]) => launch(broadcastAxis, p, [g!], [x.shape]))
  return out
}

/** Sum over one dimension (dropped from the shape), or over everything to a scalar []. */
export const sum = (x: Tensor, dim?: number): Tensor => reduceOp(x, dim, () => 1)
/** Mean over one dimension (dropped from the shape), or over everything to a scalar []. */
export const mean = (x: Tensor, dim?: number): Tensor => reduceOp(x, dim, (n) => 1 / n)

/** Euclidean norm over the last dimension: [..., C] -> [...]. Its gradient x/‖x‖ is 0 at x = 0. */
export function norm(x: Tensor): Tensor {
  sameBackend(x)
  const cols = x.shape.at(-1) ?? 1
  const p = {rows: x.numel / cols, cols, eps: 1e-12}
  const [out] = launch(rowNorm, p, [x], [x.shape.slice(0, -1)])
  if (needsGrad([x])) {
    record([x], [out], ([g], {inputs: [xs], outputs: [ns]}) => launch(rowNormBackward, p, [xs, ns, g!], [x.shape]))
  }
  return out
}

/** Log-softmax over the last dimension. Backward: g − softmax · Σg, per row. */
export function logSoftmax(x: Tensor): Tensor {
  sameBackend(x)
  const cols = x.shape.at(-1) ?? 1
  const rows = x.numel / cols
  const [out] = launch(logSoftmaxRows, {rows, cols}, [x], [x.shape])
  if (needsGrad([x])) {
    record([x], [out], ([g], {outputs: [ys]}) => [sub(g!, mul(exp(ys), repeat(sum(g!.reshape([rows, cols]), 1), cols, 1).reshape(x.shape)))])
  }
  return out
}

/** x repeated `times` over a new dimension inserted at `dim` (0: leading): [a, b] -> [a, times, b] at dim 1. */
export function repeat(x: Tensor, times: number, dim = 0): Tensor {
  sameBackend(x)
  if (!Number.isInteger(dim) || dim < 0 || dim > x.rank) throw new ShapeError(`repeat at dim ${dim} of [${x.shape}]`)
  const outer = numelOf(x.shape.slice(0, dim))
  const inner = numelOf(x.shape.slice(dim))
  const p = {outer, n: times, inner, scale: 1}
  const [out] = launch(broadcastAxis, p, [x], [[...x.shape.slice(0, dim), times, ...x.shape.slice(dim)]])
  if (needsGrad([x])) record([x], [out], ([g]) => [sumOver(g!, outer, times, inner).reshape(x.shape)])
  return out
}
