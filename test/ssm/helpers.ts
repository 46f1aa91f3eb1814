import {expect} from 'vitest'
import type {Storage} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {backward, needsGrad, record, withTape} from '../../src/engine/autograd.js'
import {empty, fromArray, type Tensor} from '../../src/engine/tensor.js'
import type {DType, HostArray} from '../../src/kernels/kernel.js'
import type {Rng} from '../helpers/random.js'

/**
 * The CPU backend on float64 storage: the CPU twins compute in whatever arrays they are handed,
 * so finite differences on this backend are not drowned by float32 rounding.
 */
export class F64Backend extends CpuBackend {
  constructor() {
    super({description: 'cpu float64 (tests)', fast: false})
  }

  override alloc(numel: number, dtype: DType): Storage {
    if (dtype === 'i32') return super.alloc(numel, dtype)
    return {numel, dtype, data: new Float64Array(numel)} as unknown as Storage
  }
}

export interface GradInput {
  name: string
  shape: number[]
  data: Float64Array
  /** Gradient wanted (default true). */
  grad?: boolean
}

export function randomInput(rng: Rng, name: string, shape: number[], scale = 1, offset = 0): GradInput {
  const n = shape.reduce((a, b) => a * b, 1)
  const data = Float64Array.from(rng.floats(n, scale), (v) => v + offset)
  return {name, shape, data}
}

const asHost = (data: Float64Array): HostArray => data as unknown as HostArray

/**
 * Check the tape's gradients of L = Σ seed ⊙ f(inputs) against central finite differences, in
 * float64, at up to `samples` entries of each input. `pick` chooses which output is seeded.
 * Seed entries are zero wherever the output is not finite (segsum's -inf triangle).
 */
export async function gradCheck(
  rng: Rng,
  inputs: GradInput[],
  forward: (ts: Tensor[]) => Tensor,
  {samples = 24, eps = 1e-5, tol = 1e-6} = {},
): Promise<void> {
  const backend = new F64Backend()
  const make = (): Tensor[] => inputs.map((inp) => fromArray(backend, asHost(inp.data), inp.shape))
  const ts = make()
  ts.forEach((t, i) => (t.requiresGrad = inputs[i].grad !== false))
  const {result: out} = withTape(() => forward(ts))
  const outData = (await out.toArray()) as unknown as Float64Array
  const seedData = Float64Array.from(rng.floats(out.numel), (v, i) => (Number.isFinite(outData[i]) ? v : 0))
  const seed = fromArray(backend, asHost(seedData), out.shape)
  const wanted = ts.filter((_, i) => inputs[i].grad !== false)
  const grads = backward(out, wanted, {seed})
  const loss = async (): Promise<number> => {
    const o = (await forward(make()).toArray()) as unknown as Float64Array
    let acc = 0
    for (let i = 0; i < o.length; i++) if (seedData[i] !== 0) acc += seedData[i] * o[i]
    return acc
  }
  let g = 0
  for (const inp of inputs) {
    if (inp.grad === false) continue
    const analytic = (await grads[g++].toArray()) as unknown as Float64Array
    expect(analytic.length, `${inp.name}: gradient size`).toBe(inp.data.length)
    const picks = inp.data.length <= samples ? [...inp.data.keys()] : Array.from({length: samples}, () => rng.int(0, inp.data.length - 1))
    let num = 0
    let den = 0
    let worst = ''
    let worstErr = 0
    for (const i of picks) {
      const original = inp.data[i]
      inp.data[i] = original + eps
      const up = await loss()
      inp.data[i] = original - eps
      const down = await loss()
      inp.data[i] = original
      const fd = (up - down) / (2 * eps)
      num += (analytic[i] - fd) ** 2
      den += fd ** 2
      const err = Math.abs(analytic[i] - fd)
      if (err > worstErr) {
        worstErr = err
        worst = `[${i}] analytic ${analytic[i]}, finite difference ${fd}`
      }
    }
    const rel = Math.sqrt(num / Math.max(den, 1e-300))
    expect(den, `${inp.name}: finite differences are all zero, the check would be vacuous`).toBeGreaterThan(0)
    expect(rel, `${inp.name}: relative gradient error ${rel.toExponential(2)}; worst ${worst}`).toBeLessThan(tol)
  }
}

/**
 * Flatten and concatenate tensors of the CPU backend into one, recording the split as its
 * backward, so one seeded loss can cover several outputs of an op at once (y and the final state).
 */
export function concatFlat(ts: Tensor[]): Tensor {
  const backend = ts[0].backend as CpuBackend
  const out = empty(backend, [ts.reduce((n, t) => n + t.numel, 0)])
  const data = backend.view(out.storage)
  let offset = 0
  for (const t of ts) {
    data.set(backend.view(t.storage), offset)
    offset += t.numel
  }
  if (needsGrad(ts)) {
    record(ts, [out], ([g]) => {
      if (!g) return []
      const all = backend.view(g.storage)
      let at = 0
      return ts.map((t) => {
        const part = fromArray(backend, all.slice(at, at + t.numel), t.shape)
        at += t.numel
        return part
      })
    })
  }
  return out
}
