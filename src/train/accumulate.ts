import {add} from '../engine/ops.js'
import type {Tensor} from '../engine/tensor.js'

/**
 * Gradient accumulation over micro-batches: sums each parameter's gradient across `add` calls.
 * The optimizer then steps on the sums with gradScale = 1 / count, the mean gradient.
 */
export class GradAccumulator {
  private sums: Tensor[] | undefined
  private added = 0

  get count(): number {
    return this.added
  }

  /** Adds one micro-batch's gradients (aligned with the parameters) and takes ownership of them. */
  add(grads: Tensor[]): void {
    this.added++
    if (!this.sums) {
      this.sums = grads
      return
    }
    if (grads.length !== this.sums.length) throw new Error(`accumulate: ${grads.length} gradients after ${this.sums.length}`)
    this.sums = this.sums.map((sum, i) => {
      const next = add(sum, grads[i])
      sum.dispose()
      grads[i].dispose()
      return next
    })
  }

  /** The summed gradients and how many micro-batches they hold; the caller owns them, and the accumulator starts over. */
  take(): {grads: Tensor[]; count: number} {
    if (!this.sums) throw new Error('accumulate: no gradients were added')
    const taken = {grads: this.sums, count: this.added}
    this.sums = undefined
    this.added = 0
    return taken
  }
}
