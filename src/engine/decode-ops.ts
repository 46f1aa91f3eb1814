import {attention as attentionKernel} from '../kernels/attention.js'
import {copyRows} from '../kernels/copy-rows.js'
import {sampleRows} from '../kernels/sample-rows.js'
import {ShapeError} from '../errors.js'
import {empty, type Tensor} from './tensor.js'

/**
 * Ops for incremental decoding. Unlike ops.ts these take no gradient, and `writeTimeRows` writes
 * into an existing tensor: a preallocated cache is mutable state, filled a few rows at a time.
 * Letters: B batch, T time, H heads, D head dim, S cache capacity.
 */

/** dst [B, S, ...] rows start..start+T-1 = src [B, T, ...] (in place). */
export function writeTimeRows(dst: Tensor, src: Tensor, start: number): void {
  const [batch, S] = dst.shape
  const [srcBatch, T] = src.shape
  const width = dst.numel / (batch * S)
  if (srcBatch !== batch || src.numel !== batch * T * width || start < 0 || start + T > S) {
    throw new ShapeError(`writeTimeRows: [${src.shape}] into rows ${start}.. of [${dst.shape}]`)
  }
  dst.assertLive()
  dst.backend.run(copyRows, {batch, rows: T, width, srcRows: T, srcStart: 0, dstRows: S, dstStart: start}, [src.storage], [dst.storage])
}

/**
 * Causal GQA attention of q [B, Tq, Hq, D] over the first `length` rows of caches k, v [B, S, Hkv, D];
 * the queries are the last Tq of those positions. -> [B, Tq, Hq, D].
 */
export function cachedAttention(q: Tensor, k: Tensor, v: Tensor, length: number, headMask?: Tensor): Tensor {
  const [batch, tq, hq, d] = q.shape
  const [kb, kvRows, hkv, kd] = k.shape
  if (q.rank !== 4 || k.rank !== 4 || kb !== batch || kd !== d || hq % hkv !== 0 || length < tq || length > kvRows || v.numel !== k.numel) {
    throw new ShapeError(`cachedAttention: q [${q.shape}] over ${length} rows of k [${k.shape}], v [${v.shape}]`)
  }
  if (headMask && headMask.numel !== hq) throw new ShapeError(`cachedAttention: head mask of ${headMask.numel} for ${hq} heads`)
  const out = empty(q.backend, q.shape)
  const p = {batch, tq, tk: length, kvRows, hq, hkv, d, scale: 1 / Math.sqrt(d), headMask: Boolean(headMask), returnProbs: false}
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
