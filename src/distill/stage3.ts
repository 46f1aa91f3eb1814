import {distillationLoss} from '../engine/losses.js'
import {chunkedLogitLoss} from './chunked-logits.js'
import {teacherPass} from './pieces.js'
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
    const target = teacherPass(() => teacher.finalHidden(ids))
    const hidden = student.finalHidden(ids, settings.recompute)
    // The LM heads and the loss in chunks of rows (chunked-logits.ts): never the [B·T, V] logits whole.
    return [chunkedLogitLoss({
      hidden, head: student.head, headWeights: student.headWeights, teacherHidden: target, teacherHead: (h) => teacher.head(h), vocabSize: student.vocabSize,
      loss: (logits, targetLogits) => distillationLoss(logits, targetLogits, {loss: settings.loss, temperature: settings.temperature}),
    })]
  },
}
