import {f16Bits} from './f16.js'
import type {Kernel} from './kernel.js'
import {F16_BITS} from './round-f16.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * Copy a run of time rows between two tensors of different lengths, in place in `dst`:
 *   dst[b, dstStart + r, :] = src[b, srcStart + r, :]   for r < rows
 *   src: [batch, srcRows, width], dst: [batch, dstRows, width]; the rest of dst is left as it was.
 * Writes new keys and values into a preallocated KV cache at its current length; into an f16 cache
 * (`toF16`) each value rounded as round-f16.ts rounds (to nearest even, the same bits on every device).
 */
export interface CopyRowsParams {
  batch: number
  rows: number
  width: number
  srcRows: number
  srcStart: number
  dstRows: number
  dstStart: number
  /** dst holds f16 (storage dtype f16; width even, so that a 32-bit word never straddles two rows). */
  toF16?: boolean
}

/** Items of the WGSL: values, or with `toF16` pairs of them (one word of dst each). */
const items = (p: CopyRowsParams): number => (p.batch * p.rows * p.width) / (p.toF16 ? 2 : 1)

const copyRowsUniforms = (p: CopyRowsParams): UniformFields => [
  ['count', items(p)],
  ['rows', p.rows],
  ['width', p.width],
  ['srcRows', p.srcRows],
  ['srcStart', p.srcStart],
  ['dstRows', p.dstRows],
  ['dstStart', p.dstStart],
]

/** WGSL: item i's coordinates and the flat indices `si` (in src) and `di` (in dst) of its first value. */
const COORDS = `  let e = i * STEP;
  let c = e % u.width;
  let r = (e / u.width) % u.rows;
  let b = e / (u.width * u.rows);
  let si = (b * u.srcRows + u.srcStart + r) * u.width + c;
  let di = (b * u.dstRows + u.dstStart + r) * u.width + c;`

export const copyRows: Kernel<CopyRowsParams> = {
  name: 'copy_rows',
  cpu: ({batch, rows, width, srcRows, srcStart, dstRows, dstStart, toF16}, [src], [dst]) => {
    for (let b = 0; b < batch; b++) {
      const from = (b * srcRows + srcStart) * width
      const to = (b * dstRows + dstStart) * width
      if (!toF16) dst.set(src.subarray(from, from + rows * width), to)
      else for (let i = 0; i < rows * width; i++) dst[to + i] = f16Bits(src[from + i])
    }
  },
  gpu: {
    key: (p) => (p.toF16 ? 'f16' : ''),
    code: (p) =>
      p.toF16
        ? flatShader(
            `${bindings(['src: array<u32>'], ['dst: array<u32>'], copyRowsUniforms(p))}\nconst STEP = 2u;\n${F16_BITS}`,
            `${COORDS}\n  dst[di / 2u] = f16_bits(src[si]) | (f16_bits(src[si + 1u]) << 16u);`,
          )
        : flatShader(`${bindings(['src: array<f32>'], ['dst: array<f32>'], copyRowsUniforms(p))}\nconst STEP = 1u;`, `${COORDS}\n  dst[di] = src[si];`),
    dispatch: (p) => flatDispatch(items(p), copyRowsUniforms(p)),
  },
}
