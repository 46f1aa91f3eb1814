import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * Copy a run of time rows between two tensors of different lengths, in place in `dst`:
 *   dst[b, dstStart + r, :] = src[b, srcStart + r, :]   for r < rows
 *   src: [batch, srcRows, width], dst: [batch, dstRows, width]; the rest of dst is left as it was.
 * Writes new keys and values into a preallocated KV cache at its current length.
 */
export interface CopyRowsParams {
  batch: number
  rows: number
  width: number
  srcRows: number
  srcStart: number
  dstRows: number
  dstStart: number
}

const copyRowsUniforms = (p: CopyRowsParams): UniformFields => [
  ['count', p.batch * p.rows * p.width],
  ['rows', p.rows],
  ['width', p.width],
  ['srcRows', p.srcRows],
  ['srcStart', p.srcStart],
  ['dstRows', p.dstRows],
  ['dstStart', p.dstStart],
]

export const copyRows: Kernel<CopyRowsParams> = {
  name: 'copy_rows',
  cpu: ({batch, rows, width, srcRows, srcStart, dstRows, dstStart}, [src], [dst]) => {
    for (let b = 0; b < batch; b++) {
      const from = (b * srcRows + srcStart) * width
      dst.set(src.subarray(from, from + rows * width), (b * dstRows + dstStart) * width)
    }
  },
  gpu: {
    key: () => '',
    code: (p) => flatShader(
      bindings(['src: array<f32>'], ['dst: array<f32>'], copyRowsUniforms(p)),
      `  let c = i % u.width;
  let r = (i / u.width) % u.rows;
  let b = i / (u.width * u.rows);
  dst[(b * u.dstRows + u.dstStart + r) * u.width + c] = src[(b * u.srcRows + u.srcStart + r) * u.width + c];`,
    ),
    dispatch: (p) => flatDispatch(p.batch * p.rows * p.width, copyRowsUniforms(p)),
  },
}
