import {declarations, rowDispatch, rowShader, WG, type Field} from '../grad-wgsl.js'
import type {Kernel} from '../kernel.js'
import type {NormParams} from '../norm.js'

/**
 * Backward of the row norms in norm.ts, one row per workgroup. With x̂ the normalised row and
 * g = w ⊙ gy:
 *   rmsnorm:   dx = (g − x̂·mean(x̂⊙g)) / rms
 *   layernorm: dx = (g − mean(g) − x̂·mean(x̂⊙g)) / std
 * Inputs x [rows, cols], w [cols], gy [rows, cols]; outputs dx [rows, cols] and gy⊙x̂
 * [rows, cols], whose column sum (reduce.ts) is dw. For layernorm db is the column sum of gy.
 */
const uniforms = (p: NormParams): Field[] => [
  ['rows', 'u32', p.rows],
  ['cols', 'u32', p.cols],
  ['eps', 'f32', p.eps],
]

export const rmsnormBackward: Kernel<NormParams> = {
  name: 'rmsnorm_backward',
  cpu: ({rows, cols, eps}, [x, w, gy], [dx, gyXhat]) => {
    for (let r = 0; r < rows; r++) {
      const o = r * cols
      let ss = 0
      for (let c = 0; c < cols; c++) ss += x[o + c] ** 2
      const inv = 1 / Math.sqrt(ss / cols + eps)
      let dot = 0
      for (let c = 0; c < cols; c++) dot += x[o + c] * inv * w[c] * gy[o + c]
      const meanDot = dot / cols
      for (let c = 0; c < cols; c++) {
        const xhat = x[o + c] * inv
        dx[o + c] = (w[c] * gy[o + c] - xhat * meanDot) * inv
        gyXhat[o + c] = gy[o + c] * xhat
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      rowShader(declarations(['x', 'w', 'gy'], ['dx', 'gyXhat'], uniforms(p)), 'u.rows', `
  let o = row * u.cols;
  var ss = 0.0;
  for (var c = t; c < u.cols; c += ${WG}u) { ss += x[o + c] * x[o + c]; }
  let inv = inverseSqrt(reduceSum(t, ss) / f32(u.cols) + u.eps);
  var sxg = 0.0;
  for (var c = t; c < u.cols; c += ${WG}u) { sxg += x[o + c] * inv * w[c] * gy[o + c]; }
  let meanDot = reduceSum(t, sxg) / f32(u.cols);
  for (var c = t; c < u.cols; c += ${WG}u) {
    let xhat = x[o + c] * inv;
    dx[o + c] = (w[c] * gy[o + c] - xhat * meanDot) * inv;
    gyXhat[o + c] = gy[o + c] * xhat;
  }`),
    dispatch: (p) => rowDispatch(p.rows, uniforms(p)),
  },
}

export const layernormBackward: Kernel<NormParams> = {
  name: 'layernorm_backward',
  cpu: ({rows, cols, eps}, [x, w, gy], [dx, gyXhat]) => {
    for (let r = 0; r < rows; r++) {
      const o = r * cols
      let mean = 0
      for (let c = 0; c < cols; c++) mean += x[o + c]
      mean /= cols
      let v = 0
      for (let c = 0; c < cols; c++) v += (x[o + c] - mean) ** 2
      const inv = 1 / Math.sqrt(v / cols + eps)
      let sumG = 0
      let dot = 0
      for (let c = 0; c < cols; c++) {
        const g = w[c] * gy[o + c]
        sumG += g
        dot += (x[o + c] - mean) * inv * g
      }
      for (let c = 0; c < cols; c++) {
        const xhat = (x[o + c] - mean) * inv
        dx[o + c] = (w[c] * gy[o + c] - sumG / cols - xhat * (dot / cols)) * inv
        gyXhat[o + c] = gy[o + c] * xhat
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      rowShader(declarations(['x', 'w', 'gy'], ['dx', 'gyXhat'], uniforms(p)), 'u.rows', `
  let o = row * u.cols;
  let n = f32(u.cols);
  var s = 0.0;
  for (var c = t; c < u.cols; c += ${WG}u) { s += x[o + c]; }
  let mean = reduceSum(t, s) / n;
  var v = 0.0;
  for (var c = t; c < u.cols; c += ${WG}u) { let d = x[o + c] - mean; v += d * d; }
  let inv = inverseSqrt(reduceSum(t, v) / n + u.eps);
  var sg = 0.0;
  var sxg = 0.0;
  for (var c = t; c < u.cols; c += ${WG}u) {
    let g = w[c] * gy[o + c];
    sg += g;
    sxg += (x[o + c] - mean) * inv * g;
  }
  let meanG = reduceSum(t, sg) / n;
  let meanDot = reduceSum(t, sxg) / n;
  for (var c = t; c < u.cols; c += ${WG}u) {
    let xhat = (x[o + c] - mean) * inv;
    dx[o + c] = (w[c] * gy[o + c] - meanG - xhat * meanDot) * inv;
    gyXhat[o + c] = gy[o + c] * xhat;
  }`),
    dispatch: (p) => rowDispatch(p.rows, uniforms(p)),
  },
}
