import {bindings, ROW_WG, rowDispatch, rowShader, type UniformFields} from './wgsl.js'
import type {Kernel} from './kernel.js'

/**
 * Statistics matching of retrieval-aware distillation's adapter (mohawk's `Normalize`): per row,
 *   out = (a − mean(a)) / (std(a) + eps) · (std(s) + eps) + mean(s)
 * with std the unbiased (n − 1) standard deviation over the row, as torch.std computes it.
 * a, s [rows, cols] -> out [rows, cols]; the backward gives da and ds.
 */
export interface StatMatchParams {
  rows: number
  cols: number
  eps: number
}

const fields = (p: StatMatchParams): UniformFields => [
  ['rows', p.rows],
  ['cols', p.cols],
  ['eps', {f: p.eps}],
]

/** Below this a standard deviation counts as zero in the backward (its centred row is zero too). */
const TINY = 1e-30

interface RowStats {
  meanA: number
  meanS: number
  stdA: number
  stdS: number
}

function rowStats(a: ArrayLike<number>, s: ArrayLike<number>, base: number, cols: number): RowStats {
  let sa = 0
  let ss = 0
  for (let c = 0; c < cols; c++) {
    sa += a[base + c]
    ss += s[base + c]
  }
  const meanA = sa / cols
  const meanS = ss / cols
  let va = 0
  let vs = 0
  for (let c = 0; c < cols; c++) {
    va += (a[base + c] - meanA) ** 2
    vs += (s[base + c] - meanS) ** 2
  }
  const dof = Math.max(cols - 1, 1)
  return {meanA, meanS, stdA: Math.sqrt(va / dof), stdS: Math.sqrt(vs / dof)}
}

/** The WGSL for the four statistics, shared by forward and backward (one workgroup per row). */
const WGSL_STATS = `
  let base = row * u.cols;
  let dof = f32(max(u.cols, 2u) - 1u);
  var sa = 0.0;
  var ss = 0.0;
  for (var c = t; c < u.cols; c += ${ROW_WG}u) { sa += a[base + c]; ss += s[base + c]; }
  let meanA = reduceSum(t, sa) / f32(u.cols);
  let meanS = reduceSum(t, ss) / f32(u.cols);
  var va = 0.0;
  var vs = 0.0;
  for (var c = t; c < u.cols; c += ${ROW_WG}u) {
    let da = a[base + c] - meanA;
    let ds = s[base + c] - meanS;
    va += da * da;
    vs += ds * ds;
  }
  let stdA = sqrt(reduceSum(t, va) / dof);
  let stdS = sqrt(reduceSum(t, vs) / dof);`

export const statMatch: Kernel<StatMatchParams> = {
  name: 'stat_match',
  cpu: ({rows, cols, eps}, [a, s], [out]) => {
    for (let r = 0; r < rows; r++) {
      const base = r * cols
      const st = rowStats(a, s, base, cols)
      const k = (st.stdS + eps) / (st.stdA + eps)
      for (let c = 0; c < cols; c++) out[base + c] = (a[base + c] - st.meanA) * k + st.meanS
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      rowShader(bindings(['a: array<f32>', 's: array<f32>'], ['out: array<f32>'], fields(p)), `${WGSL_STATS}
  let k = (stdS + u.eps) / (stdA + u.eps);
  for (var c = t; c < u.cols; c += ${ROW_WG}u) { out[base + c] = (a[base + c] - meanA) * k + meanS; }`),
    dispatch: (p) => rowDispatch(p.rows, fields(p)),
  },
}

/**
 * a, s, g (the output's gradient) -> da, ds. With â = a − mean(a), ŝ = s − mean(s), k = (σs+ε)/(σa+ε),
 * n = cols and m = Σ g·â:
 *   da = k·(g − mean(g)) − m·(σs+ε)/(σa+ε)² · â / ((n−1)·σa)
 *   ds = Σg / n + m/(σa+ε) · ŝ / ((n−1)·σs)
 */
export const statMatchBackward: Kernel<StatMatchParams> = {
  name: 'stat_match_backward',
  cpu: ({rows, cols, eps}, [a, s, g], [da, ds]) => {
    const dof = Math.max(cols - 1, 1)
    for (let r = 0; r < rows; r++) {
      const base = r * cols
      const st = rowStats(a, s, base, cols)
      let sg = 0
      let m = 0
      for (let c = 0; c < cols; c++) {
        sg += g[base + c]
        m += g[base + c] * (a[base + c] - st.meanA)
      }
      const k = (st.stdS + eps) / (st.stdA + eps)
      const ca = (-m * (st.stdS + eps)) / (st.stdA + eps) ** 2 / (dof * Math.max(st.stdA, TINY))
      const cs = m / (st.stdA + eps) / (dof * Math.max(st.stdS, TINY))
      for (let c = 0; c < cols; c++) {
        da[base + c] = k * (g[base + c] - sg / cols) + ca * (a[base + c] - st.meanA)
        ds[base + c] = sg / cols + cs * (s[base + c] - st.meanS)
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      rowShader(bindings(['a: array<f32>', 's: array<f32>', 'g: array<f32>'], ['da: array<f32>', 'ds: array<f32>'], fields(p)), `${WGSL_STATS}
  var sg = 0.0;
  var sm = 0.0;
  for (var c = t; c < u.cols; c += ${ROW_WG}u) { sg += g[base + c]; sm += g[base + c] * (a[base + c] - meanA); }
  let gSum = reduceSum(t, sg);
  let m = reduceSum(t, sm);
  let k = (stdS + u.eps) / (stdA + u.eps);
  let ca = -m * (stdS + u.eps) / ((stdA + u.eps) * (stdA + u.eps)) / (dof * max(stdA, ${TINY}));
  let cs = m / (stdA + u.eps) / (dof * max(stdS, ${TINY}));
  for (var c = t; c < u.cols; c += ${ROW_WG}u) {
    da[base + c] = k * (g[base + c] - gSum / f32(u.cols)) + ca * (a[base + c] - meanA);
    ds[base + c] = gSum / f32(u.cols) + cs * (s[base + c] - meanS);
  }`),
    dispatch: (p) => rowDispatch(p.rows, fields(p)),
  },
}
