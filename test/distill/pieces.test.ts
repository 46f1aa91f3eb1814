import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {hybridStudent} from '../../src/distill/hybrid-student.js'
import {trainUnits} from '../../src/distill/loop.js'
import {STAGES} from '../../src/distill/run.js'
import {backward, withTape} from '../../src/engine/autograd.js'
import {add} from '../../src/engine/ops.js'
import {fromArray} from '../../src/engine/tensor.js'
import {loadHybrid} from '../../src/models/hybrid.js'
import {loadTeacher} from '../../src/models/load.js'
import {Rng} from '../helpers/random.js'
import {tinySettings} from './harness.js'
import {TINY, writeTinyPair} from './tiny-models.js'

/**
 * Stages 1-3 in pieces (with and without --recompute) (stage 1's attention matrices by batch rows, stage 3's logits by chunks of
 * rows) against the same stages whole: a CPU backend imitating a GPU's binding limit cuts the
 * pieces, and the losses and every trained weight's gradient must agree to 1e-6, while no tensor
 * as large as the whole matrix or the whole logits is ever made.
 */
let dirs: Awaited<ReturnType<typeof writeTinyPair>>
const B = 2
const T = 32

beforeAll(async () => {
  dirs = await writeTinyPair(await mkdtemp(join(tmpdir(), 'hybridize-pieces-')))
})

async function lossAndGrads(stage: 1 | 2 | 3, maxBindingBytes?: number, recompute?: boolean): Promise<{values: number[]; grads: Float32Array[]; largest: number; peak: number}> {
  const backend = new CpuBackend({fast: false, maxBindingBytes})
  const teacher = await loadTeacher(dirs.teacher, backend)
  const student = hybridStudent(await loadHybrid(dirs.student, backend))
  const settings = tinySettings(dirs, {stages: [stage], temperature: 2, recompute})
  const ctx = {student, teacher, settings, layers: [0, 1]}
  const def = STAGES[stage]
  const params = trainUnits(def, ctx).flatMap((u) => u.optimizer.params)
  for (const p of params) p.requiresGrad = true
  const rng = new Rng(5)
  const ids = fromArray(backend, Int32Array.from({length: B * T}, () => Math.floor(rng.next() * student.vocabSize)), [B, T])
  backend.resetPeak()
  const live = backend.memory.liveBytes
  const {result: {parts, total}} = withTape(() => {
    const parts = def.losses(ctx, ids)
    return {parts, total: parts.slice(1).reduce((a, b) => add(a, b), parts[0])}
  })
  const grads = backward(total, params)
  const largest = backend.memory.largestBytes
  const peak = backend.memory.peakBytes - live
  for (const p of params) p.requiresGrad = false
  return {values: await Promise.all(parts.map(async (p) => (await p.toArray())[0])), grads: await Promise.all(grads.map((g) => g.toFloat32())), largest, peak}
}

function expectClose(a: Float32Array, b: Float32Array): void {
  const scale = Math.max(1e-3, ...a.map(Math.abs))
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]))
  expect(worst / scale).toBeLessThan(1e-6)
}

describe('stage losses in pieces equal the whole', () => {
  // One row's attention matrices [heads, T, T] in f32: stage 1's piece at this binding limit.
  const rowMatrix = TINY.heads * T * T * 4
  for (const stage of [1, 2, 3] as const) {
    it(`stage ${stage}: loss and gradients to 1e-6`, async () => {
      const whole = await lossAndGrads(stage)
      const pieces = await lossAndGrads(stage, rowMatrix)
      const recomputed = await lossAndGrads(stage, rowMatrix, true)
      recomputed.values.forEach((v, i) => expect(Math.abs(v - whole.values[i])).toBeLessThan(1e-6 * Math.abs(whole.values[i])))
      recomputed.grads.forEach((g, i) => expectClose(g, whole.grads[i]))
      console.log(`stage ${stage}: peak bytes whole ${whole.peak}, pieces ${pieces.peak}, pieces + recompute ${recomputed.peak}`)
      // --recompute (stage 1's pieces, stage 2's and 3's layers) keeps fewer activations for the backward.
      expect(recomputed.peak).toBeLessThan(pieces.peak)
      expect(pieces.values.length).toBe(whole.values.length)
      pieces.values.forEach((v, i) => expect(Math.abs(v - whole.values[i])).toBeLessThan(1e-6 * Math.abs(whole.values[i])))
      expect(pieces.grads.length).toBe(whole.grads.length)
      pieces.grads.forEach((g, i) => expectClose(g, whole.grads[i]))
      // The logits [B·T, V]: stages 1-2 never make them, stage 3 only in pieces.
      const logits = B * T * 300 * 4
      if (stage < 3) expect(Math.max(whole.largest, pieces.largest)).toBeLessThan(logits)
      if (stage === 1) {
        expect(whole.largest).toBeGreaterThanOrEqual(B * rowMatrix)
        // One row's matrices (the mixer pads T to its chunk): nothing of the whole batch's.
        expect(pieces.largest).toBeLessThan(B * rowMatrix)
      }
      if (stage === 3) {
        // In pieces, nothing as large as the logits: the tied head's gradient [V, C] is the largest tensor.
        expect(whole.largest).toBeGreaterThanOrEqual(logits)
        expect(pieces.largest).toBeLessThanOrEqual(300 * TINY.hidden * 4)
      }
    })
  }
})
