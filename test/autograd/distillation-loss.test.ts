import {describe, expect, it} from 'vitest'
import {noGrad} from '../../src/engine/autograd.js'
import {distillationLoss} from '../../src/engine/losses.js'
import {fromArray} from '../../src/engine/tensor.js'
import {Rng} from '../helpers/random.js'
import {F64Backend, floats, gradCheck} from './gradcheck.js'

/**
 * Stage 3's loss against the references' formulas: at T = 1 jxiw/MambaInLlama's
 * kl_div(log_softmax(student), softmax(teacher)) per token; at T > 1 transformers' distiller.py,
 * T² · KL(softmax(teacher/T) ‖ softmax(student/T)).
 */
function logSoftmax(row: ArrayLike<number>, T: number): number[] {
  const z = Array.from(row, (v) => v / T)
  const max = Math.max(...z)
  const lse = max + Math.log(z.reduce((a, v) => a + Math.exp(v - max), 0))
  return z.map((v) => v - lse)
}

/** Mean over rows of T² Σ p (log p − log q) (kl) or −T² Σ p log q (ce). */
function expected(student: ArrayLike<number>, teacher: ArrayLike<number>, V: number, T: number, kind: 'ce' | 'kl'): number {
  const rows = student.length / V
  let total = 0
  for (let r = 0; r < rows; r++) {
    const logq = logSoftmax(Array.prototype.slice.call(student, r * V, (r + 1) * V), T)
    const logp = logSoftmax(Array.prototype.slice.call(teacher, r * V, (r + 1) * V), T)
    for (let c = 0; c < V; c++) total += Math.exp(logp[c]) * ((kind === 'kl' ? logp[c] : 0) - logq[c])
  }
  return (T * T * total) / rows
}

describe('stage 3 distillation loss', () => {
  it.each([
    ['kl', 1], ['kl', 2], ['ce', 1], ['ce', 3],
  ] as const)('%s at T = %s: value as the reference computes it, and its gradient', async (kind, temperature) => {
    const rng = new Rng(31)
    const [rows, V] = [6, 9]
    const student = floats(rng, 'student', [rows, V], 3)
    const teacher = {...floats(rng, 'teacher', [rows, V], 3), grad: false}
    const backend = new F64Backend()
    const loss = noGrad(() => distillationLoss(fromArray(backend, student.data as never, [rows, V]), fromArray(backend, teacher.data as never, [rows, V]), {loss: kind, temperature}))
    expect((await loss.toArray())[0]).toBeCloseTo(expected(student.data, teacher.data, V, temperature, kind), 10)
    await gradCheck(rng, [student, teacher], ([s, t]) => distillationLoss(s, t, {loss: kind, temperature}))
  })
})
