import type {Kernel} from './kernel.js'
import {pendingGpu} from './pending.js'

/** Activations and pointwise maps. gelu_new is the tanh approximation GPT-2 and Phi use. */
export type UnaryOp = 'silu' | 'gelu_new' | 'softplus' | 'sigmoid' | 'exp' | 'tanh' | 'neg' | 'scale'

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
    case 'sigmoid': return 1 / (1 + Math.exp(-x))
    case 'exp': return Math.exp(x)
    case 'tanh': return Math.tanh(x)
    case 'neg': return -x
    case 'scale': return alpha * x
  }
}

export const unary: Kernel<UnaryParams> = {
  name: 'unary',
  cpu: (p, [x], [y]) => {
    for (let i = 0; i < p.n; i++) y[i] = unaryScalar(p.op, x[i], p.alpha)
  },
  gpu: pendingGpu('unary'),
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

export const binary: Kernel<BinaryParams> = {
  name: 'binary',
  cpu: (p, [a, b], [y]) => {
    for (let i = 0; i < p.n; i++) {
      const bv = b[i % p.bn]
      y[i] = p.op === 'add' ? a[i] + bv : p.op === 'sub' ? a[i] - bv : a[i] * bv
    }
  },
  gpu: pendingGpu('binary'),
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
  gpu: pendingGpu('swiglu'),
}
