import {bindings, NEG_INF, ROW_WG, rowDispatch, rowShader, type UniformFields} from './wgsl.js'
import type {Kernel} from './kernel.js'

/**
 * Soft-target cross-entropy and KL divergence per row, with temperature T (knowledge
 * distillation), one workgroup per row. With z = student/T, q = softmax(z), and p the teacher's
 * distribution (softmax(teacher/T) when `teacherLogits`, else `teacher` itself):
 *   cross-entropy = −Σ p log q        KL = Σ p (log p − log q)       (0·log 0 = 0)
 *   student [rows, vocab], teacher [rows, vocab] -> loss [rows]
 * Both have the gradient g · (q·Σp − p) / T with respect to the student logits (Σp = 1 for a
 * normalised teacher), taken by the backward: g [rows] -> dstudent [rows, vocab].
 */
export interface SoftTargetParams {
  rows: number
  vocab: number
  temperature: number
  teacherLogits: boolean
  kl: boolean
}

const uniforms = (p: SoftTargetParams): UniformFields => [
  ['rows', p.rows],
  ['vocab', p.vocab],
  ['invT', {f: 1 / p.temperature}],
]

interface RowStats {
  /** logsumexp of the student's z. */
  lseZ: number
  /** Σp, Σp·z and Σp·log p over the row. */
  sumP: number
  sumPZ: number
  sumPLogP: number
}

function logSumExpScaled(x: ArrayLike<number>, o: number, n: number, k: number): number {
  let max = -Infinity
  for (let c = 0; c < n; c++) max = Math.max(max, x[o + c] * k)
  let sum = 0
  for (let c = 0; c < n; c++) sum += Math.exp(x[o + c] * k - max)
  return max + Math.log(sum)
}

/**
 * The row's statistics; the teacher's p at each column goes into `pOut` when given (the backward
 * reuses it). One pass with no allocation per element: this loop is a fifth of a CPU distillation
 * step's stage 3 (vocab-wide rows, 2048 of them a batch).
 */
function rowStats(p: SoftTargetParams, student: ArrayLike<number>, teacher: ArrayLike<number>, o: number, pOut?: Float64Array): RowStats & {lseT: number} {
  const k = 1 / p.temperature
  const lseZ = logSumExpScaled(student, o, p.vocab, k)
  const lseT = p.teacherLogits ? logSumExpScaled(teacher, o, p.vocab, k) : 0
  let sumP = 0
  let sumPZ = 0
  let sumPLogP = 0
  for (let c = 0; c < p.vocab; c++) {
    let pt: number
    let logp: number
    if (p.teacherLogits) {
      logp = teacher[o + c] / p.temperature - lseT
      pt = Math.exp(logp)
    } else {
      pt = teacher[o + c]
      logp = Math.log(pt)
    }
    if (pOut) pOut[c] = pt
    sumP += pt
    sumPZ += pt * student[o + c] * k
    if (pt > 0) sumPLogP += pt * logp
  }
  return {lseZ, lseT, sumP, sumPZ, sumPLogP}
}

/** WGSL for the same statistics of the row at offset `o` (all threads of the workgroup). */
const wgslRowStats = (p: SoftTargetParams): string => `
  var mz = ${NEG_INF};
  var mt = ${NEG_INF};
  for (var c = t; c < u.vocab; c += ${ROW_WG}u) {
    mz = max(mz, student[o + c] * u.invT);
    ${p.teacherLogits ? 'mt = max(mt, teacher[o + c] * u.invT);' : ''}
  }
  mz = reduceMax(t, mz);
  ${p.teacherLogits ? 'mt = reduceMax(t, mt);' : ''}
  var sz = 0.0;
  var st = 0.0;
  for (var c = t; c < u.vocab; c += ${ROW_WG}u) {
    sz += exp(student[o + c] * u.invT - mz);
    ${p.teacherLogits ? 'st += exp(teacher[o + c] * u.invT - mt);' : ''}
  }
  let lseZ = mz + log(reduceSum(t, sz));
  ${p.teacherLogits ? 'let lseT = mt + log(reduceSum(t, st));' : ''}
  var sp = 0.0;
  var spz = 0.0;
  var splogp = 0.0;
  for (var c = t; c < u.vocab; c += ${ROW_WG}u) {
    ${p.teacherLogits ? 'let logp = teacher[o + c] * u.invT - lseT; let pt = exp(logp);' : 'let pt = teacher[o + c]; let logp = log(pt);'}
    sp += pt;
    spz += pt * student[o + c] * u.invT;
    if (pt > 0.0) { splogp += pt * logp; }
  }
  let sumP = reduceSum(t, sp);
  let sumPZ = reduceSum(t, spz);
  let sumPLogP = reduceSum(t, splogp);`

export const softTargetRows: Kernel<SoftTargetParams> = {
  name: 'soft_target_rows',
  cpu: (p, [student, teacher], [loss]) => {
    for (let r = 0; r < p.rows; r++) {
      const s = rowStats(p, student, teacher, r * p.vocab)
      const ce = s.lseZ * s.sumP - s.sumPZ
      loss[r] = p.kl ? ce + s.sumPLogP : ce
    }
  },
  gpu: {
    key: (p) => `${p.teacherLogits ? 'logits' : 'probs'}${p.kl ? ',kl' : ''}`,
    code: (p) =>
      rowShader(bindings(['student: array<f32>', 'teacher: array<f32>'], ['loss: array<f32>'], uniforms(p)), `
  let o = row * u.vocab;
  ${wgslRowStats(p)}
  let ce = lseZ * sumP - sumPZ;
  if (t == 0u) { loss[row] = ${p.kl ? 'ce + sumPLogP' : 'ce'}; }`),
    dispatch: (p) => rowDispatch(p.rows, uniforms(p)),
  },
}

export const softTargetBackward: Kernel<SoftTargetParams> = {
  name: 'soft_target_backward',
  cpu: (p, [student, teacher, g], [dstudent]) => {
    const k = 1 / p.temperature
    const pt = new Float64Array(p.vocab)
    for (let r = 0; r < p.rows; r++) {
      const o = r * p.vocab
      const s = rowStats(p, student, teacher, o, pt)
      for (let c = 0; c < p.vocab; c++) {
        const q = Math.exp(student[o + c] * k - s.lseZ)
        dstudent[o + c] = g[r] * (q * s.sumP - pt[c]) * k
      }
    }
  },
  gpu: {
    key: (p) => `${p.teacherLogits ? 'logits' : 'probs'}`,
    code: (p) =>
      rowShader(bindings(['student: array<f32>', 'teacher: array<f32>', 'g: array<f32>'], ['dstudent: array<f32>'], uniforms(p)), `
  let o = row * u.vocab;
  ${wgslRowStats(p)}
  let gr = g[row] * u.invT;
  for (var c = t; c < u.vocab; c += ${ROW_WG}u) {
    ${p.teacherLogits ? 'let pt = exp(teacher[o + c] * u.invT - lseT);' : 'let pt = teacher[o + c];'}
    let q = exp(student[o + c] * u.invT - lseZ);
    dstudent[o + c] = gr * (q * sumP - pt);
  }`),
    dispatch: (p) => rowDispatch(p.rows, uniforms(p)),
  },
}
