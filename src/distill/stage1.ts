import {checkpoint} from '../engine/checkpoint.js'
import {narrow} from '../engine/layout-ops.js'
import {frobeniusLoss} from '../engine/losses.js'
import {add, scale} from '../engine/ops.js'
import type {Tensor} from '../engine/tensor.js'
import {ShapeError} from '../errors.js'
import {itemsPerPiece, layerWeights, teacherPass} from './pieces.js'
import type {StageContext, StageDefinition} from './stage.js'

/**
 * Stage 1, matrix orientation: each student layer, fed the teacher's hidden state entering that
 * layer, materialises its SSM mixing matrix [B, H, T, T] and matches it to the teacher's attention
 * probabilities: mean over batch and heads of the Frobenius norm of the difference (not squared).
 * Only the mixers train.
 *
 * At size ([4, 32, 2048, 2048] f32 is 2 GiB, over a GPU's largest binding) the teacher runs no LM
 * head and no layer above the last trained one, its probabilities come one layer at a time, and
 * each layer's loss is summed from pieces of a few batch rows, each weighted by its share of the
 * rows: the same value and gradients as the whole.
 */
export const stage1: StageDefinition = {
  stage: 1,
  title: 'matrix orientation',
  lossName: 'mixing-matrix error (Frobenius)',
  perLayer: true,
  trains: (role, ctx) => role.group === 'mixer' && role.layer !== undefined && ctx.layers.includes(role.layer),
  losses(ctx, ids) {
    const hidden = teacherPass(() => ctx.teacher.hiddenStates(ids, Math.max(...ctx.layers)))
    return ctx.layers.map((l) => layerLoss(ctx, l, hidden[l]))
  },
}

function layerLoss({student, teacher, settings}: StageContext, l: number, h: Tensor): Tensor {
  const [B, T] = h.shape
  const heads = teacher.config.numHeads
  const rows = itemsPerPiece(student.backend, heads * T * T * 4, `one row's attention matrix [${heads}, ${T}, ${T}]`, 'lower --seq-len')
  let total: Tensor | undefined
  for (let start = 0; start < B; start += rows) {
    const n = Math.min(rows, B - start)
    const piece = n === B ? h : narrow(h, 0, start, n)
    const pieceLoss = ([x]: Tensor[]): Tensor => {
      const target = teacherPass(() => teacher.attentionProbs(l, x))
      const mixing = student.mixingMatrix(l, x)
      if (mixing.shape.some((d, i) => d !== target.shape[i])) {
        throw new ShapeError(`stage 1: layer ${l}'s mixing matrix is [${mixing.shape}] but the teacher's attention is [${target.shape}]; the student needs one SSM head per teacher query head`)
      }
      // The mean over this piece's rows, weighted by its share of the batch.
      return n === B ? frobeniusLoss(mixing, target) : scale(frobeniusLoss(mixing, target), n / B)
    }
    // With --recompute the tape keeps a scalar per piece, not its matrices: both are made again in the backward.
    const loss = settings.recompute ? checkpoint(pieceLoss, [piece], layerWeights(student, l)) : pieceLoss([piece])
    total = total ? add(total, loss) : loss
  }
  return total!
}
