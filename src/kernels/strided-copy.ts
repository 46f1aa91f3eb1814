import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * One gather that covers the layout ops (permute, narrow, pad, concat): every output element
 * reads the source at `offset + Σ_d i_d · strides[d]` for its index (i_0, .., i_{r-1}), or is 0
 * when some i_d falls outside [lo[d], hi[d]) (the zero border of a pad).
 * Ranks up to MAX_RANK; offsets and strides may be negative as long as every element read lies
 * in the source.
 */
export interface StridedCopyParams {
  /** Output shape. */
  shape: readonly number[]
  /** Source stride of each output dimension. */
  strides: readonly number[]
  offset: number
  /** Per output dimension, the range of indices that read the source (default: all). */
  lo?: readonly number[]
  hi?: readonly number[]
}

export const MAX_RANK = 6

/** Shape, strides and bounds padded on the left to MAX_RANK dimensions. */
function padded(p: StridedCopyParams): {shape: number[]; strides: number[]; lo: number[]; hi: number[]} {
  const fill = MAX_RANK - p.shape.length
  if (fill < 0) throw new Error(`strided copy: rank ${p.shape.length} is above ${MAX_RANK}`)
  const lead = <T>(v: T): T[] => Array<T>(fill).fill(v)
  return {
    shape: [...lead(1), ...p.shape],
    strides: [...lead(0), ...p.strides],
    lo: [...lead(0), ...(p.lo ?? p.shape.map(() => 0))],
    hi: [...lead(1), ...(p.hi ?? p.shape)],
  }
}

const count = (p: StridedCopyParams): number => p.shape.reduce((a, b) => a * b, 1)

function uniforms(p: StridedCopyParams): UniformFields {
  const q = padded(p)
  const fields: UniformFields = [['count', count(p)], ['offset', p.offset]]
  for (let d = 0; d < MAX_RANK; d++) fields.push([`n${d}`, q.shape[d]], [`s${d}`, q.strides[d]], [`lo${d}`, q.lo[d]], [`hi${d}`, q.hi[d]])
  return fields
}

/** Decompose `i` (last dimension fastest) and accumulate the source index, as i32 (strides may be negative). */
const GPU_BODY = (() => {
  const lines = ['  var rest = i;', '  var src = bitcast<i32>(u.offset);', '  var inside = true;']
  for (let d = MAX_RANK - 1; d >= 0; d--) {
    lines.push(
      `  let i${d} = rest % u.n${d};`,
      `  rest = rest / u.n${d};`,
      `  src += bitcast<i32>(i${d}) * bitcast<i32>(u.s${d});`,
      `  inside = inside && i${d} >= u.lo${d} && i${d} < u.hi${d};`,
    )
  }
  lines.push('  y[i] = select(0.0, x[max(src, 0)], inside);')
  return lines.join('\n')
})()

export const stridedCopy: Kernel<StridedCopyParams> = {
  name: 'strided_copy',
  cpu: (p, [x], [y]) => {
    // Row by row: the outer indices once per row of the last dimension, then a strided inner loop.
    const {shape, strides, lo, hi} = padded(p)
    const last = MAX_RANK - 1
    const [width, step, from, to] = [shape[last], strides[last], lo[last], hi[last]]
    const rows = count(p) / Math.max(1, width)
    const index = new Array<number>(last).fill(0)
    for (let row = 0; row < rows; row++) {
      let src = p.offset
      let inside = true
      for (let d = 0; d < last; d++) {
        src += index[d] * strides[d]
        inside &&= index[d] >= lo[d] && index[d] < hi[d]
      }
      const o = row * width
      for (let j = 0; j < width; j++) y[o + j] = inside && j >= from && j < to ? x[src + j * step] : 0
      for (let d = last - 1; d >= 0; d--) {
        if (++index[d] < shape[d]) break
        index[d] = 0
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) => flatShader(bindings(['x: array<f32>'], ['y: array<f32>'], uniforms(p)), GPU_BODY),
    dispatch: (p) => flatDispatch(count(p), uniforms(p)),
  },
}
