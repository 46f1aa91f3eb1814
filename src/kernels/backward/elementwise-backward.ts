import {bindings, flatDispatch, flatShader, ROW_WG, type UniformFields} from '../wgsl.js'
import type {UnaryOp} from '../elementwise.js'
import type {Kernel} from '../kernel.js'

/** Backward of the pointwise maps in elementwise.ts: gx = gy * f'(x). */
export interface UnaryBackwardParams {
  op: UnaryOp
  n: number
  alpha?: number
}

const GELU_C = Math.sqrt(2 / Math.PI)
const GELU_K = 0.044715

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x))

export function unaryDerivative(op: UnaryOp, x: number, alpha = 1): number {
  switch (op) {
    case 'silu': {
      const s = sigmoid(x)
      return s * (1 + x * (1 - s))
    }
    case 'gelu_new': {
      const t = Math.tanh(GELU_C * (x + GELU_K * x * x * x))
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_K * x * x)
    }
    case 'softplus': return x > 20 ? 1 : sigmoid(x)
    case 'neg_softplus': return -unaryDerivative('softplus', x)
    case 'sigmoid': {
      const s = sigmoid(x)
      return s * (1 - s)
    }
    case 'exp': return Math.exp(x)
    case 'tanh': return 1 - Math.tanh(x) ** 2
    case 'neg': return -1
    case 'scale': return alpha
  }
}

/** The same derivatives in WGSL, of `x`; tanh's argument is clamped because GL's tanh overflows. */
function wgslDerivative(op: UnaryOp): string {
  switch (op) {
    case 'silu': return 'let s = sigm(x); let d = s * (1.0 + x * (1.0 - s));'
    case 'gelu_new':
      return `let th = tanh(clamp(${GELU_C} * (x + ${GELU_K} * x * x * x), -15.0, 15.0));
  let d = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * ${GELU_C} * (1.0 + ${3 * GELU_K} * x * x);`
    case 'softplus': return 'let d = select(sigm(x), 1.0, x > 20.0);'
    case 'neg_softplus': return 'let d = -select(sigm(x), 1.0, x > 20.0);'
    case 'sigmoid': return 'let s = sigm(x); let d = s * (1.0 - s);'
    case 'exp': return 'let d = exp(x);'
    case 'tanh': return 'let th = tanh(clamp(x, -15.0, 15.0)); let d = 1.0 - th * th;'
    case 'neg': return 'let d = -1.0;'
    case 'scale': return 'let d = u.alpha;'
  }
}

const SIGMOID_WGSL = 'fn sigm(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }'

const unaryUniforms = (p: UnaryBackwardParams): UniformFields => [
  ['n', p.n],
  ['alpha', {f: p.alpha ?? 1}],
]

/** x [n], gy [n] -> gx [n]. */
export const unaryBackward: Kernel<UnaryBackwardParams> = {
  name: 'unary_backward',
  cpu: (p, [x, gy], [gx]) => {
    for (let i = 0; i < p.n; i++) gx[i] = gy[i] * unaryDerivative(p.op, x[i], p.alpha)
  },
  gpu: {
    key: (p) => p.op,
    code: (p) =>
      flatShader(`${bindings(['xs: array<f32>', 'gy: array<f32>'], ['gx: array<f32>'], unaryUniforms(p))}\n${SIGMOID_WGSL}`, `
  let x = xs[i];
  ${wgslDerivative(p.op)}
  gx[i] = gy[i] * d;`, {count: 'u.n', size: ROW_WG}),
    dispatch: (p) => flatDispatch(p.n, unaryUniforms(p), ROW_WG),
  },
}

/** Backward of out = silu(gate) * up: gate, up, gy [n] -> dgate, dup [n]. */
export interface SwigluBackwardParams {
  n: number
}

export const swigluBackward: Kernel<SwigluBackwardParams> = {
  name: 'swiglu_backward',
  cpu: ({n}, [gate, up, gy], [dgate, dup]) => {
    for (let i = 0; i < n; i++) {
      const g = gate[i]
      const s = sigmoid(g)
      dgate[i] = gy[i] * up[i] * s * (1 + g * (1 - s))
      dup[i] = gy[i] * g * s
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(`${bindings(['gate: array<f32>', 'up: array<f32>', 'gy: array<f32>'], ['dgate: array<f32>', 'dup: array<f32>'], [['n', p.n]])}\n${SIGMOID_WGSL}`, `
  let g = gate[i];
  let s = sigm(g);
  dgate[i] = gy[i] * up[i] * s * (1.0 + g * (1.0 - s));
  dup[i] = gy[i] * g * s;`, {count: 'u.n', size: ROW_WG}),
    dispatch: (p) => flatDispatch(p.n, [['n', p.n]], ROW_WG),
  },
}
