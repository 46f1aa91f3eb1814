import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * Mamba-3's pointwise pieces (Lahoti et al. 2026, arXiv 2603.15569, sections on the per-token scalars and the complex state): the data-dependent rotation of B and C (its
 * complex state as rotary angles) and the heavy-tailed decay rate.
 */

/**
 * Rotation of pairs (2i, 2i+1), i < angles, of x [rows, ranks, dim] by θ [rows, angles] (the same
 * angles for every rank); the other features pass through. `inverse` rotates by −θ (the backward).
 */
export interface RotatePairsParams {
  rows: number
  ranks: number
  dim: number
  angles: number
  inverse: boolean
}

const rotateUniforms = (p: RotatePairsParams): UniformFields => [
  ['count', p.rows * p.ranks * p.dim],
  ['ranks', p.ranks],
  ['dim', p.dim],
  ['angles', p.angles],
  ['sign', {f: p.inverse ? -1 : 1}],
]

export const rotatePairs: Kernel<RotatePairsParams> = {
  name: 'rotate_pairs',
  cpu: ({rows, ranks, dim, angles, inverse}, [x, theta], [y]) => {
    const sign = inverse ? -1 : 1
    for (let row = 0; row < rows; row++) {
      for (let r = 0; r < ranks; r++) {
        const base = (row * ranks + r) * dim
        for (let i = 0; i < dim; i++) y[base + i] = x[base + i]
        for (let i = 0; i < angles; i++) {
          const c = Math.cos(theta[row * angles + i])
          const s = sign * Math.sin(theta[row * angles + i])
          const x0 = x[base + 2 * i]
          const x1 = x[base + 2 * i + 1]
          y[base + 2 * i] = c * x0 - s * x1
          y[base + 2 * i + 1] = s * x0 + c * x1
        }
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(bindings(['x: array<f32>', 'theta: array<f32>'], ['y: array<f32>'], rotateUniforms(p)), `
  let feature = i % u.dim;
  let pair = feature / 2u;
  if (pair >= u.angles) { y[i] = x[i]; return; }
  let row = i / (u.dim * u.ranks);
  let angle = theta[row * u.angles + pair];
  let c = cos(angle);
  let s = u.sign * sin(angle);
  let first = i - (feature % 2u);
  let x0 = x[first];
  let x1 = x[first + 1u];
  y[i] = select(s * x0 + c * x1, c * x0 - s * x1, feature % 2u == 0u);`),
    dispatch: (p) => flatDispatch(p.rows * p.ranks * p.dim, rotateUniforms(p)),
  },
}

/** The angle gradient of rotatePairs: x, g [rows, ranks, dim] -> dθ [rows, angles], summed over ranks. */
export const rotatePairsAngleGrad: Kernel<RotatePairsParams> = {
  name: 'rotate_pairs_angle_grad',
  cpu: ({rows, ranks, dim, angles}, [x, theta, g], [dTheta]) => {
    for (let row = 0; row < rows; row++) {
      for (let i = 0; i < angles; i++) {
        const c = Math.cos(theta[row * angles + i])
        const s = Math.sin(theta[row * angles + i])
        let acc = 0
        for (let r = 0; r < ranks; r++) {
          const at = (row * ranks + r) * dim + 2 * i
          acc += g[at] * (-s * x[at] - c * x[at + 1]) + g[at + 1] * (c * x[at] - s * x[at + 1])
        }
        dTheta[row * angles + i] = acc
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(bindings(['x: array<f32>', 'theta: array<f32>', 'g: array<f32>'], ['dTheta: array<f32>'], angleUniforms(p)), `
  let row = i / u.angles;
  let pair = i % u.angles;
  let c = cos(theta[i]);
  let s = sin(theta[i]);
  var acc = 0.0;
  for (var r = 0u; r < u.ranks; r++) {
    let at = (row * u.ranks + r) * u.dim + 2u * pair;
    acc += g[at] * (-s * x[at] - c * x[at + 1u]) + g[at + 1u] * (c * x[at] - s * x[at + 1u]);
  }
  dTheta[i] = acc;`),
    dispatch: (p) => flatDispatch(p.rows * p.angles, angleUniforms(p)),
  },
}

const angleUniforms = (p: RotatePairsParams): UniformFields => [['count', p.rows * p.angles], ['ranks', p.ranks], ['dim', p.dim], ['angles', p.angles]]

/**
 * Mamba-3's decay rate A = −max(f(x), floor), f(x) = 1 + x for x ≥ 0 and 1 / (1 − x) below
 * (positive, continuous, heavy-tailed). `grad` computes g · dA/dx instead, from x and g.
 */
export interface HeavyTailParams {
  n: number
  floor: number
  grad: boolean
}

const heavyUniforms = (p: HeavyTailParams): UniformFields => [['count', p.n], ['floor', {f: p.floor}]]

export const heavyTailDecay: Kernel<HeavyTailParams> = {
  name: 'heavy_tail_decay',
  cpu: ({n, floor, grad}, [x, g], [y]) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]
      const f = v >= 0 ? 1 + v : 1 / (1 - v)
      if (!grad) y[i] = -Math.max(f, floor)
      else y[i] = f > floor ? -g[i] * (v >= 0 ? 1 : f * f) : 0
    }
  },
  gpu: {
    key: (p) => (p.grad ? 'grad' : 'forward'),
    code: (p) =>
      flatShader(bindings(p.grad ? ['x: array<f32>', 'g: array<f32>'] : ['x: array<f32>'], ['y: array<f32>'], heavyUniforms(p)), `
  let v = x[i];
  let f = select(1.0 / (1.0 - v), 1.0 + v, v >= 0.0);
  ${p.grad ? 'y[i] = select(0.0, -g[i] * select(f * f, 1.0, v >= 0.0), f > u.floor);' : 'y[i] = -max(f, u.floor);'}`),
    dispatch: (p) => flatDispatch(p.n, heavyUniforms(p)),
  },
}
