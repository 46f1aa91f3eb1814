import type {Kernel} from './kernel.js'
import {bindings, NEG_INF, ROW_WG, rowDispatch, rowShader, type UniformFields} from './wgsl.js'

/**
 * Row-wise log-softmax, x [rows, cols] -> x − logsumexp(row), the max subtracted before the
 * exponentials. For scoring over a large vocabulary (find-heads' ablated forwards at 128,256
 * tokens): on the host it was a second of JavaScript per few hundred rows, more than the forward.
 */
export interface LogSoftmaxParams {
  rows: number
  cols: number
}

const fields = (p: LogSoftmaxParams): UniformFields => [['rows', p.rows], ['cols', p.cols]]

export const logSoftmaxRows: Kernel<LogSoftmaxParams> = {
  name: 'log_softmax_rows',
  cpu: ({rows, cols}, [x], [y]) => {
    for (let r = 0; r < rows; r++) {
      const at = r * cols
      let max = -Infinity
      for (let i = 0; i < cols; i++) max = Math.max(max, x[at + i])
      let sum = 0
      for (let i = 0; i < cols; i++) sum += Math.exp(x[at + i] - max)
      const shift = max + Math.log(sum)
      for (let i = 0; i < cols; i++) y[at + i] = x[at + i] - shift
    }
  },
  gpu: {
    key: () => '',
    code: (p) => rowShader(bindings(['x: array<f32>'], ['y: array<f32>'], fields(p)), `  let at = row * u.cols;
  var m = ${NEG_INF};
  for (var i = t; i < u.cols; i += ${ROW_WG}u) { m = max(m, x[at + i]); }
  let top = reduceMax(t, m);
  var s = 0.0;
  for (var i = t; i < u.cols; i += ${ROW_WG}u) { s += exp(x[at + i] - top); }
  let shift = top + log(reduceSum(t, s));
  for (var i = t; i < u.cols; i += ${ROW_WG}u) { y[at + i] = x[at + i] - shift; }`),
    dispatch: (p) => rowDispatch(p.rows, fields(p)),
  },
}
