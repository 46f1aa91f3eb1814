import {grid1d, type GpuProgram, type Kernel} from './kernel.js'
import {bindings, uniformWords, wgsl, workgroupSum, type UniformFields} from './wgsl.js'

/**
 * Row norms over the last dimension, statistics in f32.
 *   rmsnorm:   y = x / sqrt(mean(x^2) + eps) * w                 (Llama)
 *   layernorm: y = (x - mean) / sqrt(var + eps) * w + b           (Phi)
 * Inputs x: [rows, cols], w: [cols], b: [cols]; output y: [rows, cols].
 */
export interface NormParams {
  rows: number
  cols: number
  eps: number
}

const NORM_WG = 256

export const normUniforms = (p: NormParams): UniformFields => [['rows', p.rows], ['cols', p.cols], ['eps', {f: p.eps}]]

/** 1 / sqrt(mean(x²) + eps) over the `cols` values of x from offset `o`. */
export function rmsInverse(x: ArrayLike<number>, o: number, cols: number, eps: number): number {
  let ss = 0
  for (let c = 0; c < cols; c++) ss += x[o + c] * x[o + c]
  return 1 / Math.sqrt(ss / cols + eps)
}

/** The mean and 1 / sqrt(var + eps) (population variance) of the `cols` values of x from offset `o`. */
export function meanInverseStd(x: ArrayLike<number>, o: number, cols: number, eps: number): {mean: number; inv: number} {
  let mean = 0
  for (let c = 0; c < cols; c++) mean += x[o + c]
  mean /= cols
  let v = 0
  for (let c = 0; c < cols; c++) v += (x[o + c] - mean) ** 2
  return {mean, inv: 1 / Math.sqrt(v / cols + eps)}
}

/**
 * One workgroup per row: threads stride over the columns, sums go through a workgroup reduction.
 * `body` sees `row0` (the row's offset), `lid`, `cols`, and two reductions `sum(v)`, `sum2(v)`.
 */
function rowNormProgram(inputs: string[], body: string): GpuProgram<NormParams> {
  return {
    key: () => '',
    code: (p) => wgsl`${bindings(inputs, ['y: array<f32>'], normUniforms(p))}
${workgroupSum('sum', NORM_WG)}
${workgroupSum('sum2', NORM_WG)}
@compute @workgroup_size(${NORM_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lidv: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= u.rows) { return; }
  let lid = lidv.x;
  let cols = u.cols;
  let row0 = row * cols;
${body}
}`,
    dispatch: (p) => ({workgroups: grid1d(p.rows), uniforms: uniformWords(normUniforms(p))}),
  }
}

export const rmsnorm: Kernel<NormParams> = {
  name: 'rmsnorm',
  cpu: ({rows, cols, eps}, [x, w], [y]) => {
    for (let r = 0; r < rows; r++) {
      const o = r * cols
      const inv = rmsInverse(x, o, cols, eps)
      for (let c = 0; c < cols; c++) y[o + c] = x[o + c] * inv * w[c]
    }
  },
  gpu: rowNormProgram(['x: array<f32>', 'w: array<f32>'], `
  var ss = 0.0;
  for (var c = lid; c < cols; c += ${NORM_WG}u) { let v = x[row0 + c]; ss += v * v; }
  let inv = 1.0 / sqrt(sum(ss, lid) / f32(cols) + u.eps);
  for (var c = lid; c < cols; c += ${NORM_WG}u) { y[row0 + c] = x[row0 + c] * inv * w[c]; }`),
}

export const layernorm: Kernel<NormParams> = {
  name: 'layernorm',
  cpu: ({rows, cols, eps}, [x, w, b], [y]) => {
    for (let r = 0; r < rows; r++) {
      const o = r * cols
      const {mean, inv} = meanInverseStd(x, o, cols, eps)
      for (let c = 0; c < cols; c++) y[o + c] = (x[o + c] - mean) * inv * w[c] + b[c]
    }
  },
  gpu: rowNormProgram(['x: array<f32>', 'w: array<f32>', 'b: array<f32>'], `
  var s = 0.0;
  for (var c = lid; c < cols; c += ${NORM_WG}u) { s += x[row0 + c]; }
  let mean = sum(s, lid) / f32(cols);
  var ss = 0.0;
  for (var c = lid; c < cols; c += ${NORM_WG}u) { let d = x[row0 + c] - mean; ss += d * d; }
  let inv = 1.0 / sqrt(sum2(ss, lid) / f32(cols) + u.eps);
  for (var c = lid; c < cols; c += ${NORM_WG}u) { y[row0 + c] = (x[row0 + c] - mean) * inv * w[c] + b[c]; }`),
}
