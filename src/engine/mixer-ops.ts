import {ShapeError} from '../errors.js'
import {statMatch as statMatchKernel, statMatchBackward} from '../kernels/stat-match.js'
import {needsGrad, record} from './autograd.js'
import {empty, type Tensor} from './tensor.js'

/** Ops that only the student mixers and hybrid layers use, each with its backward on the tape. */

/**
 * a, s [..., C] -> a rescaled per row to the mean and (unbiased) standard deviation of s:
 * (a − mean a) / (std a + eps) · (std s + eps) + mean s. Both inputs get gradients.
 */
export function statMatch(a: Tensor, s: Tensor, eps = 1e-5): Tensor {
  a.assertLive()
  s.assertLive()
  if (a.backend !== s.backend) throw new Error('tensors live on different backends')
  if (a.rank < 1 || a.shape.length !== s.shape.length || a.shape.some((d, i) => d !== s.shape[i])) {
    throw new ShapeError(`statMatch: [${a.shape}] and [${s.shape}] differ`)
  }
  const cols = a.shape.at(-1)!
  const p = {rows: a.numel / cols, cols, eps}
  const out = empty(a.backend, a.shape)
  a.backend.run(statMatchKernel, p, [a.storage, s.storage], [out.storage])
  if (needsGrad([a, s])) {
    record([a, s], [out], ([g], {inputs: [as, ss]}) => {
      if (!g) return []
      const da = empty(a.backend, a.shape)
      const ds = empty(a.backend, a.shape)
      a.backend.run(statMatchBackward, p, [as.storage, ss.storage, g.storage], [da.storage, ds.storage])
      return [da, ds]
    })
  }
  return out
}
