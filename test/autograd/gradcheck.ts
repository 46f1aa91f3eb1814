import {expect} from 'vitest'
import type {Storage} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {backward, noGrad, withTape} from '../../src/engine/autograd.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import type {DType, HostArray} from '../../src/kernels/kernel.js'
import type {Rng} from '../helpers/random.js'

/**
 * Finite-difference gradient checks in float64. The CPU twins compute in whatever arrays they are
 * handed (the float32 fast paths step aside for other arrays), so on a backend with Float64Array storage the forward is exact enough for central
 * differences with a small step (1e-5) and a tight tolerance (1e-6 relative to the gradient's
 * norm); a wrong backward rule misses by orders of magnitude more. Fresh storage is NaN, so an
 * element a kernel forgets to write poisons the check.
 */
export class F64Backend extends CpuBackend {
  constructor() {
    super({description: 'cpu float64 (tests)', fast: false})
  }

  override alloc(numel: number, dtype: DType): Storage {
    if (dtype === 'i32') return super.alloc(numel, dtype)
    return {numel, dtype, data: new Float64Array(numel).fill(NaN)} as unknown as Storage
  }
}

export interface GradInput {
  name: string
  shape: number[]
  data: Float64Array | Int32Array
  /** Gradient wanted (default: true for floats, never for ints). */
  grad?: boolean
}

export function floats(rng: Rng, name: string, shape: number[], scale = 1, offset = 0): GradInput {
  const n = shape.reduce((a, b) => a * b, 1)
  return {name, shape, data: Float64Array.from(rng.floats(n, scale), (v) => v + offset)}
}

export function ints(name: string, shape: number[], data: number[]): GradInput {
  return {name, shape, data: Int32Array.from(data), grad: false}
}

const wantsGrad = (inp: GradInput): boolean => inp.grad ?? inp.data instanceof Float64Array

/**
 * Check the tape's gradients of L = Σ R ⊙ f(inputs), R random, against central differences at
 * up to `samples` entries of each input that wants a gradient.
 */
export async function gradCheck(rng: Rng, inputs: GradInput[], forward: (ts: Tensor[]) => Tensor, {samples = 20, eps = 1e-5, tol = 1e-6} = {}): Promise<void> {
  const backend = new F64Backend()
  const make = (): Tensor[] => inputs.map((inp) => fromArray(backend, inp.data as unknown as HostArray, inp.shape))
  const ts = make()
  ts.forEach((t, i) => (t.requiresGrad = wantsGrad(inputs[i])))
  const {result: out} = withTape(() => forward(ts))
  const r = Float64Array.from(rng.floats(out.numel))
  const grads = backward(out, ts.filter((_, i) => wantsGrad(inputs[i])), {seed: fromArray(backend, r as unknown as HostArray, out.shape)})
  const loss = async (): Promise<number> => {
    const o = await noGrad(() => forward(make())).toArray()
    let acc = 0
    for (let i = 0; i < o.length; i++) acc += r[i] * o[i]
    return acc
  }
  let g = 0
  for (const inp of inputs) {
    if (!wantsGrad(inp)) continue
    const analytic = await grads[g++].toArray()
    expect(analytic.length, `${inp.name}: gradient size`).toBe(inp.data.length)
    const picks = inp.data.length <= samples ? [...inp.data.keys()] : Array.from({length: samples}, () => rng.int(0, inp.data.length - 1))
    let num = 0
    let den = 0
    let worst = ''
    let worstErr = -1
    for (const i of picks) {
      const original = inp.data[i]
      inp.data[i] = original + eps
      const up = await loss()
      inp.data[i] = original - eps
      const down = await loss()
      inp.data[i] = original
      const fd = (up - down) / (2 * eps)
      const err = Math.abs(analytic[i] - fd)
      num += err ** 2
      den += fd ** 2
      if (!(err <= worstErr)) {
        worstErr = err
        worst = `[${i}] analytic ${analytic[i]}, finite difference ${fd}`
      }
    }
    const rel = Math.sqrt(num / den)
    expect(den, `${inp.name}: the finite differences are all zero, the check would be vacuous`).toBeGreaterThan(0)
    expect(rel, `${inp.name}: relative gradient error ${rel.toExponential(2)}; worst ${worst}`).toBeLessThan(tol)
  }
}
