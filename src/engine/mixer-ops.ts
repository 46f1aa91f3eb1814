import {ShapeError} from '../errors.js'
import {heavyTailDecay as heavyTailKernel, rotatePairs as rotateKernel, rotatePairsAngleGrad, type RotatePairsParams} from '../kernels/mamba3.js'
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

/**
 * x [..rows, R, N] with pairs (2i, 2i+1), i < S, rotated by θ [..rows, S] (shared by the R ranks):
 * Mamba-3's data-dependent RoPE. Both inputs get gradients.
 */
export function rotatePairs(x: Tensor, theta: Tensor): Tensor {
  x.assertLive()
  theta.assertLive()
  const [ranks, dim] = x.shape.slice(-2)
  const angles = theta.shape.at(-1)!
  const rows = theta.numel / angles
  if (x.rank < 2 || 2 * angles > dim || x.numel !== rows * ranks * dim) {
    throw new ShapeError(`rotatePairs: x [${x.shape}] (.., R, N) and angles [${theta.shape}] (.., S) with 2S <= N`)
  }
  const p: RotatePairsParams = {rows, ranks, dim, angles, inverse: false}
  const out = empty(x.backend, x.shape)
  x.backend.run(rotateKernel, p, [x.storage, theta.storage], [out.storage])
  if (needsGrad([x, theta])) {
    record([x, theta], [out], ([g], {inputs: [xs, ts], needs}) => {
      if (!g) return []
      let dx: Tensor | undefined
      if (needs[0]) {
        dx = empty(x.backend, x.shape)
        x.backend.run(rotateKernel, {...p, inverse: true}, [g.storage, ts.storage], [dx.storage])
      }
      let dTheta: Tensor | undefined
      if (needs[1]) {
        dTheta = empty(x.backend, theta.shape)
        x.backend.run(rotatePairsAngleGrad, p, [xs.storage, ts.storage, g.storage], [dTheta.storage])
      }
      return [dx, dTheta]
    })
  }
  return out
}

/** Mamba-3's decay rate −max(f(x), floor), f(x) = 1 + x (x >= 0) or 1 / (1 − x) (x < 0). */
export function heavyTailDecay(x: Tensor, floor: number): Tensor {
  x.assertLive()
  const out = empty(x.backend, x.shape)
  x.backend.run(heavyTailKernel, {n: x.numel, floor, grad: false}, [x.storage], [out.storage])
  if (needsGrad([x])) {
    record([x], [out], ([g], {inputs: [xs]}) => {
      if (!g) return []
      const dx = empty(x.backend, x.shape)
      x.backend.run(heavyTailKernel, {n: x.numel, floor, grad: true}, [xs.storage, g.storage], [dx.storage])
      return [dx]
    })
  }
  return out
}
