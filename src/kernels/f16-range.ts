import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, ROW_WG, rowDispatch, rowShader, type UniformFields} from './wgsl.js'

/**
 * Keeping a mixed-precision matmul's activation operand inside f16's range (±65504): its largest
 * magnitude m is found on the device (`absMaxRows`, twice: per chunk, then over the chunks), and
 * when m ≥ 65504 the operand is multiplied by 2^-k, k = floor(log2 m) − 14, so that its largest
 * value is under 2^15, and the product by 2^k again (`rangeScale`). Powers of two change no
 * mantissa: below 65504, k = 0 and nothing changes; above it, the values are those f16 would hold
 * with a wider exponent, where plain rounding would have made them inf (what Transformer Engine's
 * per-tensor scaling does for FP8, here only where f16 would overflow). Gradients are never scaled
 * this way: their overflow is what loss scaling (train/loss-scaler.ts) must see.
 */
export interface AbsMaxRowsParams {
  /** Values in x. */
  n: number
  /** Chunks: out[r] = max |x[i]| over i in [r·cols, min(n, (r + 1)·cols)). */
  rows: number
  cols: number
}

/** k for a largest magnitude m: 0 unless m ≥ 65504 (and finite), then floor(log2 m) − 14. */
export function rangeExponent(m: number): number {
  if (!(m >= 65504) || m === Infinity) return 0
  return Math.floor(Math.log2(m)) - 14
}

/** WGSL: rangeExponent of an f32 (m is a magnitude: non-negative). */
export const WGSL_RANGE_EXPONENT = `fn range_exponent(m: f32) -> i32 {
  let e8 = i32((bitcast<u32>(m) >> 23u) & 0xffu);
  if (m >= 65504.0 && e8 < 255) { return e8 - 141; }
  return 0;
}`

const maxFields = (p: AbsMaxRowsParams): UniformFields => [['n', p.n], ['rows', p.rows], ['cols', p.cols]]

/** x [n] -> [rows]: each chunk's largest magnitude. */
export const absMaxRows: Kernel<AbsMaxRowsParams> = {
  name: 'abs_max_rows',
  cpu: (p, [x], [out]) => {
    for (let r = 0; r < p.rows; r++) {
      let m = 0
      for (let i = r * p.cols; i < Math.min(p.n, (r + 1) * p.cols); i++) m = Math.max(m, Math.abs(x[i]))
      out[r] = m
    }
  },
  gpu: {
    key: () => '',
    code: (p) => rowShader(`${bindings(['x: array<f32>'], ['out: array<f32>'], maxFields(p))}`, `  let end = min(u.n, (row + 1u) * u.cols);
  var m = 0.0;
  for (var i = row * u.cols + t; i < end; i += ${ROW_WG}u) { m = max(m, abs(x[i])); }
  let total = reduceMax(t, m);
  if (t == 0u) { out[row] = total; }`),
    dispatch: (p) => rowDispatch(p.rows, maxFields(p)),
  },
}

export interface RangeScaleParams {
  n: number
  /** -1: into f16's range (x · 2^-k); 1: back (x · 2^k). */
  direction: -1 | 1
}

const scaleFields = (p: RangeScaleParams): UniformFields => [['count', p.n], ['n', p.n]]

/** x [n], m [1] (absMaxRows over the operand) -> x · 2^(direction · rangeExponent(m)). */
export const rangeScale: Kernel<RangeScaleParams> = {
  name: 'range_scale',
  cpu: (p, [x, m], [out]) => {
    const factor = 2 ** (p.direction * rangeExponent(m[0]))
    for (let i = 0; i < p.n; i++) out[i] = x[i] * factor
  },
  gpu: {
    key: (p) => String(p.direction),
    code: (p) => flatShader(`${bindings(['x: array<f32>', 'm: array<f32>'], ['out: array<f32>'], scaleFields(p))}\n${WGSL_RANGE_EXPONENT}`,
      `  out[i] = ldexp(x[i], ${p.direction === 1 ? '' : '-'}range_exponent(m[0]));`),
    dispatch: (p) => flatDispatch(p.n, scaleFields(p)),
  },
}

export interface CropRangeScaleParams {
  rows: number
  cols: number
  /** x's row length (>= cols). */
  paddedCols: number
}

const cropFields = (p: CropRangeScaleParams): UniformFields => [['count', p.rows * p.cols], ['cols', p.cols], ['padded_cols', p.paddedCols]]

/**
 * x [.., paddedCols], m [1] -> [rows, cols]: the first rows and cols of x times 2^rangeExponent(m),
 * a padded tensor-core product cropped and scaled back in one pass (ops.ts#halfProduct), the same
 * values as a strided copy followed by rangeScale (direction 1).
 */
export const cropRangeScale: Kernel<CropRangeScaleParams> = {
  name: 'crop_range_scale',
  cpu: (p, [x, m], [out]) => {
    const factor = 2 ** rangeExponent(m[0])
    for (let r = 0; r < p.rows; r++) for (let c = 0; c < p.cols; c++) out[r * p.cols + c] = x[r * p.paddedCols + c] * factor
  },
  gpu: {
    key: () => '',
    code: (p) => flatShader(`${bindings(['x: array<f32>', 'm: array<f32>'], ['out: array<f32>'], cropFields(p))}\n${WGSL_RANGE_EXPONENT}`,
      `  let r = i / u.cols;
  out[i] = ldexp(x[r * u.padded_cols + (i - r * u.cols)], range_exponent(m[0]));`),
    dispatch: (p) => flatDispatch(p.rows * p.cols, cropFields(p)),
  },
}
