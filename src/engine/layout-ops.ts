import {ShapeError} from '../errors.js'
import {copyRows} from '../kernels/copy-rows.js'
import {fill} from '../kernels/fill.js'
import {joinRows, MAX_PARTS, splitRows} from '../kernels/split-rows.js'
import {broadcastAxis, sumAxis} from '../kernels/reduce.js'
import {stridedCopy, type StridedCopyParams} from '../kernels/strided-copy.js'
import {needsGrad, record} from './autograd.js'
import {empty, numelOf, type Tensor} from './tensor.js'

/**
 * Ops that move elements without arithmetic: permute, narrow, split, pad, concat, and expand (a new
 * broadcast axis), each with its backward on the autograd tape. permute, narrow and pad are one
 * strided gather each (kernels/strided-copy.ts); split and concat are one dispatch each way
 * (kernels/split-rows.ts; part by part beyond its MAX_PARTS); expand and its backward are the
 * broadcast / sum kernels.
 */

function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length)
  let s = 1
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s
    s *= shape[d]
  }
  return strides
}

function axisOf(x: Tensor, axis: number, what: string, extra = 0): number {
  const a = axis < 0 ? x.rank + extra + axis : axis
  if (!Number.isInteger(a) || a < 0 || a >= x.rank + extra) throw new ShapeError(`${what}: axis ${axis} of [${x.shape}]`)
  return a
}

function gather(x: Tensor, p: StridedCopyParams): Tensor {
  x.assertLive()
  const out = empty(x.backend, p.shape)
  x.backend.run(stridedCopy, p, [x.storage], [out.storage])
  return out
}

/** Dimensions reordered: out.shape[k] = x.shape[perm[k]]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const ok = perm.length === x.rank && [...perm].sort((a, b) => a - b).every((d, i) => d === i)
  if (!ok) throw new ShapeError(`permute: [${perm}] is not a permutation of the ${x.rank} dimensions of [${x.shape}]`)
  const strides = stridesOf(x.shape)
  const out = gather(x, {shape: perm.map((d) => x.shape[d]), strides: perm.map((d) => strides[d]), offset: 0})
  if (needsGrad([x])) {
    const inverse = perm.map((_, i) => perm.indexOf(i))
    record([x], [out], ([g]) => [g ? permute(g, inverse) : undefined])
  }
  return out
}

/** Elements start..start+length-1 along `axis`. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = axisOf(x, axis, 'narrow')
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > x.shape[a]) {
    throw new ShapeError(`narrow: elements ${start}..${start + length - 1} of axis ${a} of [${x.shape}]`)
  }
  const strides = stridesOf(x.shape)
  const shape = x.shape.map((d, i) => (i === a ? length : d))
  const out = gather(x, {shape, strides, offset: start * strides[a]})
  if (needsGrad([x])) record([x], [out], ([g]) => [g ? pad(g, a, start, x.shape[a]) : undefined])
  return out
}

/** x placed at start..start+x.shape[axis]-1 of a zero tensor whose `axis` has `size` elements. */
export function pad(x: Tensor, axis: number, start: number, size: number): Tensor {
  const a = axisOf(x, axis, 'pad')
  const length = x.shape[a]
  if (!Number.isInteger(start) || !Number.isInteger(size) || start < 0 || start + length > size) {
    throw new ShapeError(`pad: [${x.shape}] at ${start} along axis ${a} does not fit in ${size}`)
  }
  const strides = stridesOf(x.shape)
  const shape = x.shape.map((d, i) => (i === a ? size : d))
  const lo = shape.map((_, i) => (i === a ? start : 0))
  const hi = shape.map((d, i) => (i === a ? start + length : d))
  const out = gather(x, {shape, strides, offset: -start * strides[a], lo, hi})
  if (needsGrad([x])) record([x], [out], ([g]) => [g ? narrow(g, a, start, length) : undefined])
  return out
}

/** Tensors joined along `axis` (every other dimension equal). */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new ShapeError('concat: no tensors')
  const a = axisOf(xs[0], axis, 'concat')
  const ref = xs[0].shape
  for (const x of xs) {
    x.assertLive()
    if (x.rank !== ref.length || x.shape.some((d, i) => i !== a && d !== ref[i])) throw new ShapeError(`concat: [${x.shape}] does not fit [${ref}] along axis ${a}`)
  }
  const sizes = xs.map((x) => x.shape[a])
  const out = joined(xs, a, sizes)
  if (needsGrad([...xs])) record([...xs], [out], ([g], {needs}) => cut(g!, a, sizes, needs))
  return out
}

/** x cut along `axis` into consecutive parts of the given sizes (which add up to the axis): narrows with one backward. */
export function split(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  const a = axisOf(x, axis, 'split')
  if (sizes.some((n) => !Number.isInteger(n) || n < 0) || sizes.reduce((s, n) => s + n, 0) !== x.shape[a]) {
    throw new ShapeError(`split: sizes [${sizes}] do not add up to axis ${a} of [${x.shape}]`)
  }
  x.assertLive()
  const parts = cut(x, a, sizes, sizes.map(() => true)) as Tensor[]
  // The parts' gradients go back in one tensor; a part without one leaves zeros there.
  if (needsGrad([x])) record([x], parts, (grads) => [joined(grads, a, sizes, x.shape)])
  return parts
}

/** The parts of x along axis `a` that `wanted` asks for: one split_rows for them all, or a gather each beyond MAX_PARTS or when some are not wanted. */
function cut(x: Tensor, a: number, sizes: readonly number[], wanted: readonly boolean[]): (Tensor | undefined)[] {
  const shapeOf = (length: number): number[] => x.shape.map((d, i) => (i === a ? length : d))
  if (sizes.length <= MAX_PARTS && wanted.every(Boolean)) {
    const parts = sizes.map((length) => empty(x.backend, shapeOf(length)))
    x.backend.run(splitRows, {outer: numelOf(x.shape.slice(0, a)), inner: numelOf(x.shape.slice(a + 1)), sizes}, [x.storage], parts.map((t) => t.storage))
    return parts
  }
  const strides = stridesOf(x.shape)
  let at = 0
  return sizes.map((length, j) => {
    const start = (at += length) - length
    return wanted[j] ? gather(x, {shape: shapeOf(length), strides, offset: start * strides[a]}) : undefined
  })
}

/**
 * Parts of the given sizes along axis `a` in one new tensor (concat's forward, split's backward):
 * one join_rows, or beyond MAX_PARTS one copy_rows each, every tensor viewed as [outer, length,
 * inner]. A missing part (a gradient that never came) is zeros; `shape`: the result's, when the
 * first part may be missing.
 */
function joined(parts: readonly (Tensor | undefined)[], a: number, sizes: readonly number[], shape?: readonly number[]): Tensor {
  const ref = shape ?? parts[0]!.shape
  const total = sizes.reduce((s, n) => s + n, 0)
  const given = parts.filter((p): p is Tensor => p !== undefined)
  const backend = given[0].backend
  const out = empty(backend, ref.map((d, i) => (i === a ? total : d)))
  const [outer, inner] = [numelOf(ref.slice(0, a)), numelOf(ref.slice(a + 1))]
  if (sizes.length <= MAX_PARTS) {
    backend.run(joinRows, {outer, inner, sizes, present: parts.map(Boolean)}, given.map((p) => p.storage), [out.storage])
    return out
  }
  if (parts.some((p, i) => !p && sizes[i] > 0)) backend.run(fill, {n: out.numel, value: 0}, [], [out.storage])
  let at = 0
  parts.forEach((p, i) => {
    const rows = sizes[i]
    if (p && rows > 0 && outer * inner > 0) backend.run(copyRows, {batch: outer, rows, width: inner, srcRows: rows, srcStart: 0, dstRows: total, dstStart: at}, [p.storage], [out.storage])
    at += rows
  })
  return out
}

/**
 * A new axis of `n` copies inserted at `axis`: [..pre, ..post] -> [..pre, n, ..post]. With
 * `axis` just after a heads axis and a reshape, this is repeat_interleave (GQA's repeat_kv).
 */
export function expand(x: Tensor, axis: number, n: number): Tensor {
  const a = axisOf(x, axis, 'expand', 1)
  if (!Number.isInteger(n) || n < 1) throw new ShapeError(`expand: ${n} copies`)
  x.assertLive()
  const p = {outer: numelOf(x.shape.slice(0, a)), n, inner: numelOf(x.shape.slice(a)), scale: 1}
  const out = empty(x.backend, [...x.shape.slice(0, a), n, ...x.shape.slice(a)])
  x.backend.run(broadcastAxis, p, [x.storage], [out.storage])
  if (needsGrad([x])) {
    record([x], [out], ([g]) => {
      if (!g) return []
      const dx = empty(x.backend, x.shape)
      x.backend.run(sumAxis, p, [g.storage], [dx.storage])
      return [dx]
    })
  }
  return out
}

/** Each slice along `axis` repeated `times` in place: [.., h, ..] -> [.., h·times, ..] (repeat_interleave). */
export function repeatInterleave(x: Tensor, axis: number, times: number): Tensor {
  const a = axisOf(x, axis, 'repeatInterleave')
  if (times === 1) return x
  const shape = x.shape.map((d, i) => (i === a ? d * times : d))
  return expand(x, a + 1, times).reshape(shape)
}
