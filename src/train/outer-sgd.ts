/**
 * DiLoCo's outer optimizer (Douillard et al. 2023, arXiv 2311.08105, Algorithm 1): SGD with
 * Nesterov momentum on the outer gradient, the workers' mean parameter delta. One step is
 * torch.optim.SGD(lr, momentum, nesterov=True, dampening=0, weight_decay=0) on one tensor:
 *   buf ← momentum·buf + g        (the first step's buf is g itself: buf starts at zero)
 *   θ   ← θ − lr·(g + momentum·buf)
 * On the host, in place, in a fixed element order, so every worker that takes it on the same
 * inputs computes the same bits.
 */
export interface OuterSgdOptions {
  lr: number
  momentum: number
}

/** The paper's outer settings (its Table 1 and section 3): lr 0.7, Nesterov momentum 0.9. */
export const DILOCO_OUTER: OuterSgdOptions = {lr: 0.7, momentum: 0.9}

/** One outer step on `param` given its outer gradient `grad`; `buf` is the momentum buffer (updated in place). */
export function outerSgdStep(param: Float32Array, grad: Float32Array, buf: Float32Array, {lr, momentum}: OuterSgdOptions): void {
  if (grad.length !== param.length || buf.length !== param.length) throw new Error(`outer SGD: ${param.length} values, gradient ${grad.length}, momentum ${buf.length}`)
  for (let i = 0; i < param.length; i++) {
    buf[i] = momentum * buf[i] + grad[i]
    param[i] -= lr * (grad[i] + momentum * buf[i])
  }
}
