import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * Activations and pointwise maps. gelu_new is the tanh approximation GPT-2 and Phi use; neg_softplus
 * is −softplus, a discrete Mamba-2 head's log-decay from its projection, in one pass.
 */
export type UnaryOp = 'silu' | 'gelu_new' | 'softplus' | 'neg_softplus' | 'sigmoid' | 'exp' | 'tanh' | 'neg' | 'scale'

export interface UnaryParams {
  op: UnaryOp
  n: number
  /** Multiplier for 'scale'. */
  alpha?: number
}

const GELU_C = Math.sqrt(2 / Math.PI)

export function unaryScalar(op: UnaryOp, x: number, alpha = 1): number {
  switch (op) {
    case 'silu': return x / (1 + Math.exp(-x))
    case 'gelu_new': return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)))
    // softplus as PyTorch computes it: linear above 20 to avoid overflow.
    case 'softplus': return x > 20 ? x : Math.log1p(Math.exp(x))
    case 'neg_softplus': return -unaryScalar('softplus', x)
    case 'sigmoid': return 1 / (1 + Math.exp(-x))
    case 'exp': return Math.exp(x)
    case 'tanh': return Math.tanh(x)
    case 'neg': return -x
    case 'scale': return alpha * x
  }
}

/**
 * WGSL helpers with the CPU's numerics: sigmoid without overflow on either side, tanh clamped
 * where it is ±1 in f32 anyway (some drivers build it from exp and overflow), log1p accurate near 0.
 */
const SCALAR_FNS = `
fn sigmoid_(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn tanh_(x: f32) -> f32 { return tanh(clamp(x, -10.0, 10.0)); }
fn log1p_(x: f32) -> f32 {
  let v = 1.0 + x;
  if (v == 1.0) { return x; }
  return log(v) * (x / (v - 1.0));
}`

const UNARY_WGSL: Record<UnaryOp, string> = {
  silu: 'x * sigmoid_(x)',
  gelu_new: `0.5 * x * (1.0 + tanh_(${GELU_C} * (x + 0.044715 * x * x * x)))`,
  softplus: 'select(log1p_(exp(x)), x, x > 20.0)',
  neg_softplus: '-select(log1p_(exp(x)), x, x > 20.0)',
  sigmoid: 'sigmoid_(x)',
  exp: 'exp(x)',
  tanh: 'tanh_(x)',
  neg: '-x',
  scale: 'u.alpha * x',
}

const unaryUniforms = (p: UnaryParams): UniformFields => [['count', p.n], ['alpha', {f: p.alpha ?? 1}]]

export const unary: Kernel<UnaryParams> = {
  name: 'unary',
  cpu: (p, [x], [y]) => {
    for (let i = 0; i < p.n; i++) y[i] = unaryScalar(p.op, x[i], p.alpha)
  },
  gpu: {
    key: (p) => p.op,
    code: (p) => flatShader(
      bindings(['xs: array<f32>'], ['ys: array<f32>'], unaryUniforms(p)) + SCALAR_FNS,
      `  let x = xs[i];\n  ys[i] = ${UNARY_WGSL[p.op]};`,
    ),
    dispatch: (p) => flatDispatch(p.n, unaryUniforms(p)),
  },
}

/**
 * out[i] = a[i] (op) b[i % bn]: b is either the same size as a or broadcast along a's
 * trailing dimensions (a bias row, a per-channel scale).
 */
export type BinaryOp = 'add' | 'sub' | 'mul'

export interface BinaryParams {
  op: BinaryOp
  n: number
  bn: number
}

const BINARY_WGSL: Record<BinaryOp, string> = {add: '+', sub: '-', mul: '*'}

const binaryUniforms = (p: BinaryParams): UniformFields => [['count', p.n], ['bn', p.bn]]

export const binary: Kernel<BinaryParams> = {
  name: 'binary',
  cpu: (p, [a, b], [y]) => {
    for (let i = 0; i < p.n; i++) {
      const bv = b[i % p.bn]
      y[i] = p.op === 'add' ? a[i] + bv : p.op === 'sub' ? a[i] - bv : a[i] * bv
    }
  },
  gpu: {
    key: (p) => p.op,
    code: (p) => flatShader(
      bindings(['a: array<f32>', 'b: array<f32>'], ['y: array<f32>'], binaryUniforms(p)),
      `  y[i] = a[i] ${BINARY_WGSL[p.op]} b[i % u.bn];`,
    ),
    dispatch: (p) => flatDispatch(p.n, binaryUniforms(p)),
  },
}

/** SwiGLU's gate: out = silu(gate) * up, fused so the MLP makes one pass. */
export interface SwigluParams {
  n: number
}

export const swiglu: Kernel<SwigluParams> = {
  name: 'swiglu',
  cpu: (p, [gate, up], [y]) => {
    for (let i = 0; i < p.n; i++) {
      const g = gate[i]
      y[i] = (g / (1 + Math.exp(-g))) * up[i]
    }
  },
  gpu: {
    key: () => '',
    code: (p) => flatShader(
      bindings(['gate: array<f32>', 'up: array<f32>'], ['y: array<f32>'], [['count', p.n]]) + SCALAR_FNS,
      '  let g = gate[i];\n  y[i] = g * sigmoid_(g) * up[i];',
    ),
    dispatch: (p) => flatDispatch(p.n, [['count', p.n]]),
  },
}
