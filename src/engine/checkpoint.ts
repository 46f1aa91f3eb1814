import {backward, needsGrad, noGrad, record, withTape} from './autograd.js'
import {lossScale, matmulPrecision, withPrecision} from './precision.js'
import {scope, type Tensor} from './tensor.js'

/**
 * Activation recomputation (torch.utils.checkpoint): y = fn(inputs) without keeping fn's
 * activations. The forward runs with no tape and frees everything but y; the tape records one op
 * whose backward runs fn again on a tape of its own and backpropagates the incoming gradient
 * through it. Memory: fn's inputs and y instead of every activation inside fn, for a second
 * forward in the backward. `weights` are the tensors fn reads besides its inputs that may train
 * (a layer's parameters): they must be named so that their gradients leave the inner tape.
 * fn must compute the same thing twice (no randomness): the recomputation runs in the forward's
 * precision context (precision.ts), as torch.utils.checkpoint restores autocast's state, since
 * the backward runs outside it.
 */
export function checkpoint(fn: (inputs: Tensor[]) => Tensor, inputs: Tensor[], weights: Tensor[]): Tensor {
  const out = scope(() => noGrad(() => fn(inputs)))
  const taped = [...inputs, ...weights]
  const [precision, scale] = [matmulPrecision(), lossScale()]
  if (needsGrad(taped)) {
    record(taped, [out], ([g], ctx) => scope(() => {
      // Views that are leaves of the inner tape: the inputs want a gradient where the outer tape does.
      const leaves = ctx.inputs.map((t, i) => {
        const v = t.reshape(t.shape)
        v.requiresGrad = ctx.needs[i]
        return v
      })
      const wanted = leaves.filter((_, i) => ctx.needs[i])
      const {result} = withTape(() => withPrecision(precision, () => fn(leaves.slice(0, inputs.length)), scale))
      const grads = backward(result, wanted, {seed: g!})
      let k = 0
      return leaves.map((_, i) => (ctx.needs[i] ? grads[k++] : undefined))
    }))
  }
  return out
}
