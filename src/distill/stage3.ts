import {klDivergence, softTargetCrossEntropy} from '../engine/losses.js'
import type {StageDefinition} from './stage.js'

/**
 * Stage 3, end-to-end knowledge distillation: the student's logits against the teacher's, by
 * soft-target cross-entropy (default) or KL divergence, with `--temperature`. Every weight outside
 * the `--freeze` groups trains.
 */
export const stage3: StageDefinition = {
  stage: 3,
  title: 'end-to-end distillation',
  lossName: 'distillation loss',
  perLayer: false,
  trains: (role, ctx) => !(ctx.settings.freeze ?? []).includes(role.group),
  losses({student, teacher, settings}, ids) {
    const target = teacher.forward(ids).logits
    const logits = student.forward(ids).logits
    const loss = settings.loss === 'kl' ? klDivergence : softTargetCrossEntropy
    return [loss(logits, target, {temperature: settings.temperature})]
  },
}
