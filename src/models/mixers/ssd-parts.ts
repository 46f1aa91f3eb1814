import {concat, expand, narrow, pad, permute} from '../../engine/layout-ops.js'
import {add, matmul, mul} from '../../engine/ops.js'
import {needsGrad} from '../../engine/autograd.js'
import {conv1d, conv1dCarry} from '../../engine/ssm-ops.js'
import {fromArray, type Tensor} from '../../engine/tensor.js'

/**
 * Pieces the Mamba-2 style mixers share: the causal conv with a carried window, per-head scaling,
 * D on the diagonal of a mixing matrix, and y = M x.
 * Letters: B batch, T time, K conv channels, W conv width, H heads, P head dim.
 */

/**
 * Causal depthwise conv of x [B, T, K] with weight [K, W] (and bias [K]). With `window`
 * [B, W-1, K] (the inputs before x) the conv continues a sequence; with `keepWindow` it also
 * returns the last W-1 inputs, the window for the next call. Decoding (a window, no gradient) takes
 * one kernel (conv1dCarry); training takes the composite, which has a backward.
 */
export function causalConv(x: Tensor, weight: Tensor, bias: Tensor | undefined, opts: {window?: Tensor; keepWindow?: boolean} = {}): {y: Tensor; window?: Tensor} {
  if (!opts.window && !opts.keepWindow) return {y: conv1d(x, weight, bias)}
  const lag = weight.shape[1] - 1
  if (opts.window && lag > 0 && !needsGrad([x, opts.window, weight, ...(bias ? [bias] : [])])) {
    const carried = conv1dCarry(x, opts.window, weight, bias)
    if (opts.keepWindow) return carried
    carried.window.dispose()
    return {y: carried.y}
  }
  const T = x.shape[1]
  const full = opts.window ? concat([opts.window, x], 1) : pad(x, 1, lag, T + lag)
  const y = narrow(conv1d(full, weight, bias), 1, lag, T)
  return {y, window: opts.keepWindow ? narrow(full, 1, T, lag) : undefined}
}

/** x [..., H, P] times v [H] per head. */
export function perHead(x: Tensor, v: Tensor): Tensor {
  return mul(x, expand(v, 1, x.shape.at(-1)!))
}

/** M [B, H, T, T] + diag(D_h) per head. */
export function addDiagonal(M: Tensor, D: Tensor): Tensor {
  const T = M.shape.at(-1)!
  const H = D.numel
  const eye = new Float32Array(T * T)
  for (let t = 0; t < T; t++) eye[t * T + t] = 1
  const diag = mul(expand(D, 1, T * T).reshape([H, T, T]), fromArray(M.backend, eye, [T, T]))
  return add(M, diag)
}

/** M [B, H, T, T] columns s scaled by v [B, T, H] at (b, s, h). */
export function scaleColumns(M: Tensor, v: Tensor): Tensor {
  const T = M.shape.at(-1)!
  return mul(M, expand(permute(v, [0, 2, 1]), 2, T))
}

/** y[b, t, h] = Σ_s M[b, h, t, s] x[b, s, h]: M [B, H, T, T], x [B, T, H, P] -> [B, T, H, P]. */
export function applyMatrix(M: Tensor, x: Tensor): Tensor {
  return permute(matmul(M, permute(x, [0, 2, 1, 3])), [0, 2, 1, 3])
}

/**
 * The output projection's input x [..., H·P] through a headOutputs hook (MixerForwardOptions), as
 * heads of `heads` [B, T, H, P]; x itself without a hook.
 */
export function headsHook(x: Tensor, heads: readonly number[], hook: ((y: Tensor) => Tensor) | undefined): Tensor {
  return hook ? hook(x.reshape([...heads])).reshape(x.shape) : x
}
