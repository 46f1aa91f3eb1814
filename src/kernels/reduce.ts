import {bindings, flatDispatch, flatShader, ROW_WG, rowDispatch, rowShader, type UniformFields} from './wgsl.js'
import type {Kernel} from './kernel.js'

/**
 * Reductions and their backward. A tensor is viewed as [outer, n, inner] and reduced over n:
 * the last dimension (inner = 1), a column sum such as a bias gradient (outer = 1), or a sum over
 * the batch. Sums accumulate in double on CPU, in f32 on the GPU.
 */
export interface AxisParams {
  outer: number
  n: number
  inner: number
  /** Multiplier on the result: 1 for a sum, 1/n for a mean. */
  scale: number
}

/** Below this many terms a thread sums its output alone; above, a workgroup shares the work. */
const SHORT_AXIS = 64

const axisUniforms = (p: AxisParams): UniformFields => [
  ['outer', p.outer],
  ['n', p.n],
  ['inner', p.inner],
  ['scale', {f: p.scale}],
]

/** x [outer, n, inner] -> y [outer, inner] = scale * Σ_n x. */
export const sumAxis: Kernel<AxisParams> = {
  name: 'sum_axis',
  cpu: ({outer, n, inner, scale}, [x], [y]) => {
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        let acc = 0
        for (let r = 0; r < n; r++) acc += x[(o * n + r) * inner + j]
        y[o * inner + j] = acc * scale
      }
    }
  },
  gpu: {
    key: (p) => (p.n <= SHORT_AXIS ? 'thread' : 'workgroup'),
    code: (p) => {
      const decls = bindings(['x: array<f32>'], ['y: array<f32>'], axisUniforms(p))
      if (p.n <= SHORT_AXIS) {
        return flatShader(decls, `
  let o = i / u.inner;
  let j = i % u.inner;
  var acc = 0.0;
  for (var r = 0u; r < u.n; r++) { acc += x[(o * u.n + r) * u.inner + j]; }
  y[i] = acc * u.scale;`, {count: 'u.outer * u.inner', size: ROW_WG})
      }
      return rowShader(decls, `
  let o = row / u.inner;
  let j = row % u.inner;
  var acc = 0.0;
  for (var r = t; r < u.n; r += ${ROW_WG}u) { acc += x[(o * u.n + r) * u.inner + j]; }
  let total = reduceSum(t, acc);
  if (t == 0u) { y[row] = total * u.scale; }`, 'u.outer * u.inner')
    },
    dispatch: (p) => (p.n <= SHORT_AXIS ? flatDispatch(p.outer * p.inner, axisUniforms(p), ROW_WG) : rowDispatch(p.outer * p.inner, axisUniforms(p))),
  },
}

/** The backward of `sumAxis`: g [outer, inner] -> y [outer, n, inner] = scale * g, repeated over n. */
export const broadcastAxis: Kernel<AxisParams> = {
  name: 'broadcast_axis',
  cpu: ({outer, n, inner, scale}, [g], [y]) => {
    for (let o = 0; o < outer; o++) {
      for (let r = 0; r < n; r++) {
        for (let j = 0; j < inner; j++) y[(o * n + r) * inner + j] = g[o * inner + j] * scale
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(bindings(['g: array<f32>'], ['y: array<f32>'], axisUniforms(p)), `
  let o = i / (u.n * u.inner);
  let j = i % u.inner;
  y[i] = g[o * u.inner + j] * u.scale;`, {count: 'u.outer * u.n * u.inner', size: ROW_WG}),
    dispatch: (p) => flatDispatch(p.outer * p.n * p.inner, axisUniforms(p), ROW_WG),
  },
}

/**
 * Euclidean norm of each row: x [rows, cols] -> y [rows]. Its backward divides by the norm,
 * guarded by `eps` so a zero row has a zero gradient instead of NaN.
 */
export interface RowNormParams {
  rows: number
  cols: number
  eps: number
}

const normUniforms = (p: RowNormParams): UniformFields => [
  ['rows', p.rows],
  ['cols', p.cols],
  ['eps', {f: p.eps}],
]

export const rowNorm: Kernel<RowNormParams> = {
  name: 'row_norm',
  cpu: ({rows, cols}, [x], [y]) => {
    for (let r = 0; r < rows; r++) {
      let ss = 0
      for (let c = 0; c < cols; c++) ss += x[r * cols + c] ** 2
      y[r] = Math.sqrt(ss)
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      rowShader(bindings(['x: array<f32>'], ['y: array<f32>'], normUniforms(p)), `
  var ss = 0.0;
  for (var c = t; c < u.cols; c += ${ROW_WG}u) { let v = x[row * u.cols + c]; ss += v * v; }
  let total = reduceSum(t, ss);
  if (t == 0u) { y[row] = sqrt(total); }`),
    dispatch: (p) => rowDispatch(p.rows, normUniforms(p)),
  },
}

/** x [rows, cols], norm [rows], gy [rows] -> gx [rows, cols] = gy * x / max(norm, eps). */
export const rowNormBackward: Kernel<RowNormParams> = {
  name: 'row_norm_backward',
  cpu: ({rows, cols, eps}, [x, norm, gy], [gx]) => {
    for (let r = 0; r < rows; r++) {
      const k = gy[r] / Math.max(norm[r], eps)
      for (let c = 0; c < cols; c++) gx[r * cols + c] = x[r * cols + c] * k
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(bindings(['x: array<f32>', 'norm: array<f32>', 'gy: array<f32>'], ['gx: array<f32>'], normUniforms(p)), `
  let r = i / u.cols;
  gx[i] = x[i] * (gy[r] / max(norm[r], u.eps));`, {count: 'u.rows * u.cols', size: ROW_WG}),
    dispatch: (p) => flatDispatch(p.rows * p.cols, normUniforms(p), ROW_WG),
  },
}
