import {checkpoint} from '../engine/checkpoint.js'
import {l2Loss} from '../engine/losses.js'
import type {Tensor} from '../engine/tensor.js'
import {STAGE2_DEFAULT_FREEZE} from './options.js'
import {layerWeights, teacherPass} from './pieces.js'
import type {StageDefinition} from './stage.js'

/**
 * Stage 2, hidden-state alignment: each student block, fed the teacher's hidden state entering it,
 * against the teacher's next hidden state: mean over tokens of the L2 distance (not squared). The
 * teacher's last hidden state is after its final norm, so the last block's output goes through the
 * teacher's final norm before the comparison. Trains the chosen layers' weights outside the
 * `--freeze` groups (default: MLPs and norms stay as copied from the teacher). The teacher runs
 * no LM head, no layer above the last trained one, and keeps none of its activations.
 */
export const stage2: StageDefinition = {
  stage: 2,
  title: 'hidden-state alignment',
  lossName: 'hidden-state error (L2)',
  perLayer: true,
  trains: (role, ctx) =>
    role.layer !== undefined && ctx.layers.includes(role.layer) && !(ctx.settings.freeze ?? STAGE2_DEFAULT_FREEZE).includes(role.group),
  losses({student, teacher, layers, settings}, ids) {
    const hidden = teacherPass(() => teacher.hiddenStates(ids, Math.max(...layers) + 1))
    const last = student.numLayers - 1
    return layers.map((l) => {
      const loss = ([h, target]: Tensor[]): Tensor => {
        const out = student.block(l, h)
        return l2Loss(l === last ? teacher.finalNorm(out) : out, target)
      }
      // With --recompute the tape keeps each layer's input and target, not every layer's activations at once.
      return settings.recompute ? checkpoint(loss, [hidden[l], hidden[l + 1]], layerWeights(student, l)) : loss([hidden[l], hidden[l + 1]])
    })
  },
}
