import {bindings, flatDispatch, flatShader, ROW_WG, type UniformFields} from './wgsl.js'
import type {Kernel} from './kernel.js'

/**
 * One AdamW step, in place, as PyTorch's torch.optim.AdamW computes it (decoupled weight decay):
 *   g = grad · gradScale
 *   m = β1 m + (1 − β1) g          v = β2 v + (1 − β2) g²
 *   param = param · (1 − lr·wd) − lr/(1 − β1^step) · m / (sqrt(v)/sqrt(1 − β2^step) + eps)
 * grad is the input; param, m and v are read_write outputs (WebGPU cannot bind one buffer as
 * both input and output). `gradScale` folds in gradient clipping and accumulation averaging.
 */
export interface AdamWParams {
  n: number
  lr: number
  beta1: number
  beta2: number
  eps: number
  weightDecay: number
  /** 1-based step number, for the bias corrections. */
  step: number
  gradScale: number
}

interface Coefficients {
  decay: number
  stepSize: number
  sqrtBc2: number
}

function coefficients(p: AdamWParams): Coefficients {
  return {
    decay: 1 - p.lr * p.weightDecay,
    stepSize: p.lr / (1 - p.beta1 ** p.step),
    sqrtBc2: Math.sqrt(1 - p.beta2 ** p.step),
  }
}

function uniforms(p: AdamWParams): UniformFields {
  const c = coefficients(p)
  return [
    ['n', p.n],
    ['beta1', {f: p.beta1}],
    ['beta2', {f: p.beta2}],
    ['eps', {f: p.eps}],
    ['decay', {f: c.decay}],
    ['stepSize', {f: c.stepSize}],
    ['sqrtBc2', {f: c.sqrtBc2}],
    ['gradScale', {f: p.gradScale}],
  ]
}

export const adamw: Kernel<AdamWParams> = {
  name: 'adamw',
  cpu: (p, [grad], [param, m, v]) => {
    const {decay, stepSize, sqrtBc2} = coefficients(p)
    for (let i = 0; i < p.n; i++) {
      const g = grad[i] * p.gradScale
      m[i] = p.beta1 * m[i] + (1 - p.beta1) * g
      v[i] = p.beta2 * v[i] + (1 - p.beta2) * g * g
      param[i] = param[i] * decay - (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtBc2 + p.eps)
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(bindings(['grad: array<f32>'], ['param: array<f32>', 'm: array<f32>', 'v: array<f32>'], uniforms(p)), `
  let g = grad[i] * u.gradScale;
  let mi = u.beta1 * m[i] + (1.0 - u.beta1) * g;
  let vi = u.beta2 * v[i] + (1.0 - u.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = param[i] * u.decay - u.stepSize * mi / (sqrt(vi) / u.sqrtBc2 + u.eps);`, {count: 'u.n', size: ROW_WG}),
    dispatch: (p) => flatDispatch(p.n, uniforms(p), ROW_WG),
  },
}
