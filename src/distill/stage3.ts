import {distillationLoss} from '../engine/losses.js'
import type {StageDefinition} from './stage.js'

/**
 * Stage 3, end-to-end knowledge distillation: the student's logits against the teacher's, by
 * soft-target cross-entropy (default) or KL divergence, both softened by `--temperature` and scaled
 * by T² (engine/losses.ts#distillationLoss says where each part comes from). Every weight outside
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
    return [distillationLoss(logits, target, {loss: settings.loss, temperature: settings.temperature})]
  },
}
