import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * Sums along one axis of a tensor viewed as [outer, len, inner] (the axis is `len`).
 *   reverse:   y[t] = Σ_{s >= t} x[s]   (the backward of a forward cumsum, and vice versa)
 *   exclusive: the term x[t] itself is left out (y[0] = 0, or y[len-1] = 0 when reversed)
 * One thread per (outer, inner) line on the GPU: the lines are what runs in parallel.
 */
export interface CumsumParams {
  outer: number
  len: number
  inner: number
  reverse: boolean
  exclusive: boolean
}

const cumsumFields = (p: CumsumParams): UniformFields => [
  ['count', p.outer * p.inner],
  ['len', p.len],
  ['inner', p.inner],
]

export const cumsum: Kernel<CumsumParams> = {
  name: 'cumsum',
  cpu: (p, [x], [y]) => {
    const {outer, len, inner} = p
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        let acc = 0
        for (let step = 0; step < len; step++) {
          const t = p.reverse ? len - 1 - step : step
          const at = (o * len + t) * inner + j
          if (p.exclusive) {
            y[at] = acc
            acc += x[at]
          } else {
            acc += x[at]
            y[at] = acc
          }
        }
      }
    }
  },
  gpu: {
    key: (p) => `${p.reverse ? 'rev' : 'fwd'},${p.exclusive ? 'excl' : 'incl'}`,
    code: (p) =>
      flatShader(
        bindings(['x: array<f32>'], ['y: array<f32>'], cumsumFields(p)),
        `  let o = i / u.inner;
  let j = i % u.inner;
  var acc = 0.0;
  for (var step = 0u; step < u.len; step++) {
    let t = ${p.reverse ? 'u.len - 1u - step' : 'step'};
    let at = (o * u.len + t) * u.inner + j;
    ${p.exclusive ? 'y[at] = acc;\n    acc += x[at];' : 'acc += x[at];\n    y[at] = acc;'}
  }`,
      ),
    dispatch: (p) => flatDispatch(p.outer * p.inner, cumsumFields(p)),
  },
}

/**
 * Segment sums, as `segsum` in ssd_minimal: the log-decay between any two times.
 *   a:   [outer, len, inner]            (time in the middle, e.g. dA [B, T, H])
 *   out: [outer, inner, len, len]       out[o, j, t, s] = Σ_{s<k<=t} a[o, k, j] for s <= t, -inf above
 * Each entry is summed fresh (not as a difference of cumsums), which keeps long spans exact.
 * One GPU thread per column s walks down t; neighbouring threads write neighbouring columns.
 */
export interface SegsumParams {
  outer: number
  len: number
  inner: number
}

const segsumFields = (p: SegsumParams): UniformFields => [
  ['count', p.outer * p.inner * p.len],
  ['len', p.len],
  ['inner', p.inner],
  // WGSL constant expressions may not be infinite, so -inf arrives as a uniform.
  ['negInf', {f: -Infinity}],
]

export const segsum: Kernel<SegsumParams> = {
  name: 'segsum',
  cpu: (p, [a], [out]) => {
    const {outer, len, inner} = p
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        const base = (o * inner + j) * len * len
        for (let s = 0; s < len; s++) {
          let acc = 0
          for (let t = 0; t < len; t++) {
            if (t > s) acc += a[(o * len + t) * inner + j]
            out[base + t * len + s] = t < s ? -Infinity : acc
          }
        }
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(
        bindings(['a: array<f32>'], ['out: array<f32>'], segsumFields(p)),
        `  let s = i % u.len;
  let line = i / u.len;
  let o = line / u.inner;
  let j = line % u.inner;
  let base = line * u.len * u.len;
  var acc = 0.0;
  for (var t = 0u; t < u.len; t++) {
    if (t > s) { acc += a[(o * u.len + t) * u.inner + j]; }
    out[base + t * u.len + s] = select(acc, u.negInf, t < s);
  }`,
      ),
    dispatch: (p) => flatDispatch(p.outer * p.inner * p.len, segsumFields(p)),
  },
}

/**
 * First half of segsum's backward. With dout [outer, inner, len, len], the gradient is
 * da[k] = Σ_{t>=k} Σ_{s<k} dout[t, s], a sum over a rectangle. Consecutive rectangles differ by
 * one column below the diagonal and one row left of it, so
 *   diff[o, k, j] = Σ_{t>k} dout[o, j, t, k] - Σ_{s<k} dout[o, j, k, s]   -> [outer, len, inner]
 * and da is the exclusive cumsum of diff along time (the caller runs `cumsum`).
 */
export const segsumGradDiff: Kernel<SegsumParams> = {
  name: 'segsum_grad_diff',
  cpu: (p, [dout], [diff]) => {
    const {outer, len, inner} = p
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        const base = (o * inner + j) * len * len
        for (let k = 0; k < len; k++) {
          let acc = 0
          for (let t = k + 1; t < len; t++) acc += dout[base + t * len + k]
          for (let s = 0; s < k; s++) acc -= dout[base + k * len + s]
          diff[(o * len + k) * inner + j] = acc
        }
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(
        bindings(['dout: array<f32>'], ['diff: array<f32>'], segsumFields(p)),
        `  let k = i % u.len;
  let line = i / u.len;
  let o = line / u.inner;
  let j = line % u.inner;
  let base = line * u.len * u.len;
  var acc = 0.0;
  for (var t = k + 1u; t < u.len; t++) { acc += dout[base + t * u.len + k]; }
  for (var s = 0u; s < k; s++) { acc -= dout[base + k * u.len + s]; }
  diff[(o * u.len + k) * u.inner + j] = acc;`,
      ),
    dispatch: (p) => flatDispatch(p.outer * p.inner * p.len, segsumFields(p)),
  },
}
