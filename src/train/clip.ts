import {noGrad} from '../engine/autograd.js'
import {add, mul, norm} from '../engine/ops.js'
import type {Tensor} from '../engine/tensor.js'

/**
 * Global gradient-norm clipping, as torch.nn.utils.clip_grad_norm_: the gradients' joint L2 norm
 * (computed on the device, one read back), and the factor min(1, maxNorm / (norm + 1e-6)) to
 * pass to the optimizer as `gradScale` rather than rewriting every gradient.
 */
export interface ClipResult {
  /** Norm of the gradients as the optimizer will see them before clipping (times `scale`). */
  norm: number
  /** Multiplier for the optimizer: `scale` times the clipping factor. */
  gradScale: number
}

/** `scale` is a factor already due on the gradients (1 / micro-batches when accumulating). */
export async function clipGradNorm(grads: Tensor[], maxNorm: number, scale = 1): Promise<ClipResult> {
  const squares = noGrad(() => {
    let total: Tensor | undefined
    for (const g of grads) {
      // Row norms first, so the reduction is spread over many workgroups.
      const rows = norm(g.reshape([-1, g.shape.at(-1) ?? 1]))
      const n = norm(rows.reshape([1, -1]))
      const sq = mul(n, n)
      const next = total ? add(total, sq) : sq
      if (total) {
        total.dispose()
        sq.dispose()
      }
      rows.dispose()
      n.dispose()
      total = next
    }
    return total
  })
  const sumSquares = squares ? (await squares.toArray())[0] : 0
  squares?.dispose()
  const total = Math.sqrt(sumSquares) * scale
  return {norm: total, gradScale: scale * Math.min(1, maxNorm / (total + 1e-6))}
}
