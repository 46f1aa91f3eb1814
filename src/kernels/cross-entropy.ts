import {bindings, NEG_INF, ROW_WG, rowDispatch, rowShader, type UniformFields} from './wgsl.js'
import type {Kernel} from './kernel.js'

/**
 * Hard-label cross-entropy per row (the next-token loss), one workgroup per row.
 *   logits [rows, vocab], labels [rows] i32 -> loss [rows] = logsumexp(row) − row[label]
 * A negative label ignores its row (loss 0, gradient 0). The backward takes the gradient of each
 * row's loss: g [rows] -> dlogits = g · (softmax(row) − onehot(label)).
 */
export interface CrossEntropyParams {
  rows: number
  vocab: number
}

const uniforms = (p: CrossEntropyParams): UniformFields => [
  ['rows', p.rows],
  ['vocab', p.vocab],
]

function logSumExp(x: ArrayLike<number>, o: number, n: number): number {
  let max = -Infinity
  for (let c = 0; c < n; c++) max = Math.max(max, x[o + c])
  let sum = 0
  for (let c = 0; c < n; c++) sum += Math.exp(x[o + c] - max)
  return max + Math.log(sum)
}

function checkLabel(label: number, vocab: number): void {
  if (label >= vocab) throw new RangeError(`label ${label} is outside the vocabulary (0..${vocab - 1})`)
}

/** WGSL computing `lse` of the row at offset `o` (all threads of the workgroup). */
const wgslLogSumExp = `
  var mx = ${NEG_INF};
  for (var c = t; c < u.vocab; c += ${ROW_WG}u) { mx = max(mx, logits[o + c]); }
  mx = reduceMax(t, mx);
  var se = 0.0;
  for (var c = t; c < u.vocab; c += ${ROW_WG}u) { se += exp(logits[o + c] - mx); }
  let lse = mx + log(reduceSum(t, se));`

export const crossEntropyRows: Kernel<CrossEntropyParams> = {
  name: 'cross_entropy_rows',
  cpu: ({rows, vocab}, [logits, labels], [loss]) => {
    for (let r = 0; r < rows; r++) {
      const label = labels[r]
      checkLabel(label, vocab)
      loss[r] = label < 0 ? 0 : logSumExp(logits, r * vocab, vocab) - logits[r * vocab + label]
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      rowShader(bindings(['logits: array<f32>', 'labels: array<i32>'], ['loss: array<f32>'], uniforms(p)), `
  let o = row * u.vocab;
  ${wgslLogSumExp}
  let label = labels[row];
  if (t == 0u) {
    if (label < 0) { loss[row] = 0.0; } else { loss[row] = lse - logits[o + u32(label)]; }
  }`),
    dispatch: (p) => rowDispatch(p.rows, uniforms(p)),
  },
}

export const crossEntropyBackward: Kernel<CrossEntropyParams> = {
  name: 'cross_entropy_backward',
  cpu: ({rows, vocab}, [logits, labels, g], [dlogits]) => {
    for (let r = 0; r < rows; r++) {
      const o = r * vocab
      const label = labels[r]
      checkLabel(label, vocab)
      if (label < 0) {
        dlogits.fill(0, o, o + vocab)
        continue
      }
      const lse = logSumExp(logits, o, vocab)
      for (let c = 0; c < vocab; c++) dlogits[o + c] = g[r] * (Math.exp(logits[o + c] - lse) - (c === label ? 1 : 0))
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      rowShader(bindings(['logits: array<f32>', 'labels: array<i32>', 'g: array<f32>'], ['dlogits: array<f32>'], uniforms(p)), `
  let o = row * u.vocab;
  ${wgslLogSumExp}
  let label = labels[row];
  let gr = select(g[row], 0.0, label < 0);
  for (var c = t; c < u.vocab; c += ${ROW_WG}u) {
    let onehot = select(0.0, 1.0, i32(c) == label);
    dlogits[o + c] = gr * (exp(logits[o + c] - lse) - onehot);
  }`),
    dispatch: (p) => rowDispatch(p.rows, uniforms(p)),
  },
}
