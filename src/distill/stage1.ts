import {frobeniusLoss} from '../engine/losses.js'
import {ShapeError} from '../errors.js'
import type {StageDefinition} from './stage.js'

/**
 * Stage 1, matrix orientation: each student layer, fed the teacher's hidden state entering that
 * layer, materialises its SSM mixing matrix [B, H, T, T] and matches it to the teacher's attention
 * probabilities: mean over batch and heads of the Frobenius norm of the difference (not squared).
 * Only the mixers train.
 */
export const stage1: StageDefinition = {
  stage: 1,
  title: 'matrix orientation',
  lossName: 'mixing-matrix error (Frobenius)',
  perLayer: true,
  trains: (role, ctx) => role.group === 'mixer' && role.layer !== undefined && ctx.layers.includes(role.layer),
  losses({student, teacher, layers}, ids) {
    const out = teacher.forward(ids, {hiddenStates: true, attentions: true})
    return layers.map((l) => {
      const mixing = student.mixingMatrix(l, out.hiddenStates![l])
      const target = out.attentions![l]
      if (mixing.shape.some((d, i) => d !== target.shape[i])) {
        throw new ShapeError(`stage 1: layer ${l}'s mixing matrix is [${mixing.shape}] but the teacher's attention is [${target.shape}]; the student needs one SSM head per teacher query head`)
      }
      return frobeniusLoss(mixing, target)
    })
  },
}
