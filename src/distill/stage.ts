import type {Tensor} from '../engine/tensor.js'
import type {TeacherModel} from '../models/teacher.js'
import type {DistillSettings, StageNumber} from './options.js'
import type {DistillStudent, WeightRole} from './student.js'

/**
 * One MOHAWK stage: which weights it trains and its loss on a batch of token ids. Stages 1 and 2
 * treat layers independently: one loss per layer, each layer with its own optimizer and clipping,
 * so training a subset of layers (`--layers`) gives those layers exactly what a full run gives.
 */
export type DistillTeacher = Pick<TeacherModel, 'config' | 'forward' | 'hiddenStates' | 'attentionProbs' | 'finalHidden' | 'finalNorm' | 'head' | 'vocabSize'>

export interface StageContext {
  student: DistillStudent
  teacher: DistillTeacher
  settings: DistillSettings
  /** Layers trained (stages 1 and 2); every layer when `--layers` was not given. */
  layers: number[]
}

export interface StageDefinition {
  stage: StageNumber
  title: string
  /** What the loss measures, for logs and plots. */
  lossName: string
  perLayer: boolean
  trains(role: WeightRole, ctx: StageContext): boolean
  /** ids [B, T] -> scalar losses: one per trained layer (per-layer stages), else one. */
  losses(ctx: StageContext, ids: Tensor): Tensor[]
}
