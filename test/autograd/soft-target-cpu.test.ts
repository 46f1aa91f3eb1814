import {describe, expect, it} from 'vitest'
import {softTargetBackward, softTargetRows, type SoftTargetParams} from '../../src/kernels/soft-target.js'
import {Random} from '../../src/util/random.js'

/**
 * The CPU soft-target kernels against the element-at-a-time formulas they were first written as
 * (the teacher's p recomputed per element, in both kernels): the one-pass version must give the
 * same numbers to the bit, at a distillation batch's vocab-wide rows.
 */
function stats(p: SoftTargetParams, student: Float32Array, teacher: Float32Array, o: number) {
  const k = 1 / p.temperature
  const lse = (x: Float32Array): number => {
    let max = -Infinity
    for (let c = 0; c < p.vocab; c++) max = Math.max(max, x[o + c] * k)
    let sum = 0
    for (let c = 0; c < p.vocab; c++) sum += Math.exp(x[o + c] * k - max)
    return max + Math.log(sum)
  }
  const lseZ = lse(student)
  const lseT = p.teacherLogits ? lse(teacher) : 0
  const at = (i: number): [number, number] => {
    if (!p.teacherLogits) return [teacher[i], Math.log(teacher[i])]
    const logp = teacher[i] / p.temperature - lseT
    return [Math.exp(logp), logp]
  }
  let sumP = 0
  let sumPZ = 0
  let sumPLogP = 0
  for (let c = 0; c < p.vocab; c++) {
    const [pt, logp] = at(o + c)
    sumP += pt
    sumPZ += pt * student[o + c] * k
    if (pt > 0) sumPLogP += pt * logp
  }
  return {lseZ, sumP, sumPZ, sumPLogP, at}
}

describe('CPU soft-target kernels', () => {
  const rows = 6
  const vocab = 4096
  for (const teacherLogits of [true, false]) {
    for (const [kl, temperature] of [[false, 1], [true, 2.5]] as const) {
      it(`teacher ${teacherLogits ? 'logits' : 'probabilities'}, ${kl ? 'KL' : 'cross-entropy'}, T = ${temperature}: the loss and gradient of the per-element formulas, to the bit`, () => {
        const p: SoftTargetParams = {rows, vocab, temperature, teacherLogits, kl}
        const rng = new Random(7)
        const student = Float32Array.from({length: rows * vocab}, () => 8 * (rng.float() - 0.5))
        const teacher = Float32Array.from({length: rows * vocab}, () => 8 * (rng.float() - 0.5))
        if (!teacherLogits) {
          for (let r = 0; r < rows; r++) {
            let s = 0
            for (let c = 0; c < vocab; c++) s += (teacher[r * vocab + c] = c % 7 === r ? 0 : Math.exp(teacher[r * vocab + c]))
            for (let c = 0; c < vocab; c++) teacher[r * vocab + c] /= s
          }
        }
        const g = Float32Array.from({length: rows}, () => rng.float() + 0.5)
        const loss = new Float32Array(rows).fill(NaN)
        const grad = new Float32Array(rows * vocab).fill(NaN)
        softTargetRows.cpu(p, [student, teacher], [loss])
        softTargetBackward.cpu(p, [student, teacher, g], [grad])
        const k = 1 / temperature
        for (let r = 0; r < rows; r++) {
          const o = r * vocab
          const s = stats(p, student, teacher, o)
          const ce = s.lseZ * s.sumP - s.sumPZ
          expect(loss[r]).toBe(Math.fround(kl ? ce + s.sumPLogP : ce))
          const want = Float32Array.from({length: vocab}, (_, c) => g[r] * (Math.exp(student[o + c] * k - s.lseZ) * s.sumP - s.at(o + c)[0]) * k)
          expect(Array.from(grad.subarray(o, o + vocab))).toEqual(Array.from(want))
        }
      })
    }
  }
})
