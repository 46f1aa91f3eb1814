import {attention as attentionKernel} from '../kernels/attention.js'
import {copyRows} from '../kernels/copy-rows.js'
import {sampleRows} from '../kernels/sample-rows.js'
import {ShapeError} from '../errors.js'
import {empty, fromArray, type Tensor} from './tensor.js'

/**
 * Ops for incremental decoding. Unlike ops.ts these take no gradient, and `writeTimeRows` writes
 * into an existing tensor: a preallocated cache is mutable state, filled a few rows at a time.
 * Letters: B batch, T time, H heads, D head dim, S cache capacity.
 */

/** dst [B, S, ...] rows start..start+T-1 = src [B, T, ...] (in place); f32 src, dst f32 or f16 (rounded to nearest). */
export function writeTimeRows(dst: Tensor, src: Tensor, start: number): void {
  const [batch, S] = dst.shape
  const [srcBatch, T] = src.shape
  const width = dst.numel / (batch * S)
  const toF16 = dst.dtype === 'f16'
  if (srcBatch !== batch || src.numel !== batch * T * width || start < 0 || start + T > S || src.dtype !== 'f32' || !(toF16 || dst.dtype === 'f32') || (toF16 && width % 2 !== 0)) {
    throw new ShapeError(`writeTimeRows: ${src.dtype} [${src.shape}] into rows ${start}.. of ${dst.dtype} [${dst.shape}]`)
  }
  dst.assertLive()
  dst.backend.run(copyRows, {batch, rows: T, width, srcRows: T, srcStart: 0, dstRows: S, dstStart: start, ...(toF16 && {toF16})}, [src.storage], [dst.storage])
}

/**
 * Causal GQA attention of q [B, Tq, Hq, D] over the first `length` rows of caches k, v [B, S, Hkv, D]
 * (both f32, or both f16); the queries are the last Tq of those positions. -> [B, Tq, Hq, D].
 */
export function cachedAttention(q: Tensor, k: Tensor, v: Tensor, length: number, headMask?: Tensor): Tensor {
  const [batch, tq, hq, d] = q.shape
  const [kb, kvRows, hkv, kd] = k.shape
  if (q.rank !== 4 || k.rank !== 4 || kb !== batch || kd !== d || hq % hkv !== 0 || length < tq || length > kvRows || v.numel !== k.numel || v.dtype !== k.dtype) {
    throw new ShapeError(`cachedAttention: q [${q.shape}] over ${length} rows of k ${k.dtype} [${k.shape}], v ${v.dtype} [${v.shape}]`)
  }
  if (headMask && headMask.numel !== hq) throw new ShapeError(`cachedAttention: head mask of ${headMask.numel} for ${hq} heads`)
  const out = empty(q.backend, q.shape)
  const kvDtype = k.dtype === 'f16' ? ({kvDtype: 'f16'} as const) : {}
  const p = {batch, tq, tk: length, kvRows, hq, hkv, d, scale: 1 / Math.sqrt(d), headMask: Boolean(headMask), returnProbs: false, ...kvDtype}
  const inputs = [q, k, v, ...(headMask ? [headMask] : [])]
  q.backend.run(attentionKernel, p, inputs.map((t) => t.storage), [out.storage])
  return out
}

/**
 * One token id per row of logits [R, V], drawn on the device (kernels/sample-rows.ts): the argmax at
 * temperature 0, else a draw from softmax(logits / T) with draws [R] i32 (Random.uint32 bits). -> [R] i32.
 */
export function sampleTokens(logits: Tensor, draws: Tensor, temperature: number): Tensor {
  const [rows, vocab] = logits.shape
  if (logits.rank !== 2 || draws.dtype !== 'i32' || draws.numel !== rows) {
    throw new ShapeError(`sampleTokens: logits [${logits.shape}] with ${draws.dtype} draws [${draws.shape}]`)
  }
  const out = empty(logits.backend, [rows], 'i32')
  logits.backend.run(sampleRows, {rows, vocab, temperature}, [logits.storage, draws.storage], [out.storage])
  return out
}

/** The first index of each row's maximum, on the device (sample-rows at temperature 0): [R, V] -> [R] i32, -1 for a row holding a NaN or an infinity. */
export function argmaxRows(logits: Tensor): Tensor {
  const rows = logits.shape[0]
  return sampleTokens(logits, fromArray(logits.backend, new Int32Array(rows), [rows]), 0)
}
