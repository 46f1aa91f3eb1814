import {ShapeError} from '../errors.js'
import {broadcastAxis, sumAxis} from '../kernels/reduce.js'
import {stridedCopy, type StridedCopyParams} from '../kernels/strided-copy.js'
import {needsGrad, record} from './autograd.js'
import {add} from './ops.js'
import {empty, numelOf, type Tensor} from './tensor.js'

/**
 * Ops that move elements without arithmetic: permute, narrow, pad, concat, and expand (a new
 * broadcast axis), each with its backward on the autograd tape. All but expand are one strided
 * gather (kernels/strided-copy.ts); expand and its backward are the broadcast / sum kernels.
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
    if (x.rank !== ref.length || x.shape.some((d, i) => i !== a && d !== ref[i])) throw new ShapeError(`concat: [${x.shape}] does not fit [${ref}] along axis ${a}`)
  }
  if (xs.length === 1) return pad(xs[0], a, 0, ref[a])
  const size = xs.reduce((n, x) => n + x.shape[a], 0)
  let at = 0
  let out: Tensor | undefined
  for (const x of xs) {
    const placed = pad(x, a, at, size)
    at += x.shape[a]
    if (!out) {
      out = placed
      continue
    }
    const sum = add(out, placed)
    out.dispose()
    placed.dispose()
    out = sum
  }
  return out!
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
