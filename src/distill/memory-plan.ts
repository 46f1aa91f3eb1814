import {ShapesOnlyBackend} from '../backend/shapes-only.js'
import type {BatchStream} from '../data/batches.js'
import {empty, type Tensor} from '../engine/tensor.js'
import type {TeacherConfig} from '../models/config.js'
import type {HybridConfig} from '../models/hybrid-config.js'
import {HybridModel} from '../models/hybrid.js'
import {expectedHybridWeights} from '../models/hybrid-weights.js'
import {TeacherModel} from '../models/teacher.js'
import {expectedTeacherWeights} from '../models/teacher-weights.js'
import {hybridStudent} from './hybrid-student.js'
import {runStage, trainUnits} from './loop.js'
import type {DistillSettings, StageNumber} from './options.js'
import {stage1} from './stage1.js'
import {stage2} from './stage2.js'
import {stage3} from './stage3.js'

/**
 * The memory each stage of a run needs, from the shapes alone: the teacher and the student built
 * on a backend that holds nothing (backend/shapes-only.ts), and one optimizer step of each stage
 * run through the real loop (every micro-batch, the backward, clipping, AdamW's moments). What it
 * counts is the tensors alive at once, in f32 as the engine stores them; a GPU adds its buffer
 * pool's slack and the kernels' uniforms on top.
 */
export interface StageMemory {
  stage: StageNumber
  /** The most bytes alive at once during the step, weights included. */
  peakBytes: number
  /** The largest single tensor (weights included): it must fit one storage binding. */
  largestBytes: number
  /** Bytes of the teacher's and the student's weights. */
  weightsBytes: number
  /** Bytes of the AdamW moments the stage allocates (every trained layer's at once). */
  optimizerBytes: number
}

const STAGE_DEFS = {1: stage1, 2: stage2, 3: stage3}

/** `maxBindingBytes`: the target device's largest binding, which sizes the pieces of stages 1 and 3 there. */
export async function planMemory(teacherConfig: TeacherConfig, studentConfig: HybridConfig, settings: DistillSettings, maxBindingBytes?: number): Promise<StageMemory[]> {
  const backend = new ShapesOnlyBackend(maxBindingBytes)
  const shaped = (shapes: Map<string, number[]>): Map<string, Tensor> => new Map([...shapes].map(([name, shape]) => [name, empty(backend, shape)]))
  const teacher = new TeacherModel(teacherConfig, shaped(expectedTeacherWeights(teacherConfig)), backend)
  const model = new HybridModel(studentConfig, shaped(expectedHybridWeights(studentConfig)), backend)
  const weightsBytes = backend.memory.liveBytes
  const largestWeight = backend.memory.largestBytes
  const student = hybridStudent(model)
  const layers = settings.layers ?? [...Array(student.numLayers).keys()]
  // Token ids are never looked at: zeros do.
  const data = {next: async (rows: number) => new Int32Array(rows * settings.seqLen)} as unknown as BatchStream
  const plan: StageMemory[] = []
  for (const stage of settings.stages) {
    const def = STAGE_DEFS[stage]
    const requested = {student, teacher, settings, layers}
    const units = trainUnits(def, requested)
    const ctx = def.perLayer ? {...requested, layers: units.map((u) => u.layer!)} : requested
    backend.resetPeak()
    let optimizerBytes = 0
    await runStage({
      def, ctx, data, units, steps: 1, lr: 0, firstStep: 0,
      afterStep: async () => {
        optimizerBytes = units.reduce((n, u) => n + u.optimizer.exportState().moments.reduce((b, m) => b + 2 * m.m.numel * 4, 0), 0)
        return true
      },
    })
    plan.push({stage, peakBytes: backend.memory.peakBytes, largestBytes: Math.max(largestWeight, backend.memory.largestBytes), weightsBytes, optimizerBytes})
    for (const u of units) u.optimizer.dispose()
  }
  return plan
}
