import {describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {backward, withTape} from '../../src/engine/autograd.js'
import {mean, mul, sum} from '../../src/engine/ops.js'
import {fromArray, scope, type Tensor} from '../../src/engine/tensor.js'
import {GradAccumulator} from '../../src/train/accumulate.js'
import {clipGradNorm} from '../../src/train/clip.js'
import {AdamW, decayGroups, isNoDecay} from '../../src/train/optimizer.js'
import {wsdLearningRate} from '../../src/train/schedule.js'
import {Rng} from '../helpers/random.js'

const backend = new CpuBackend({description: 'cpu (tests)'})
const tensor = (data: ArrayLike<number>, shape = [data.length]): Tensor => fromArray(backend, Float32Array.from(data), shape)

describe('AdamW', () => {
  it('follows torch.optim.AdamW for three steps, per group weight decay', async () => {
    const rng = new Rng(51)
    const w0 = [...rng.floats(5)]
    const b0 = [...rng.floats(3)]
    const w = tensor(w0)
    const b = tensor(b0)
    const opt = new AdamW([
      {params: [{name: 'w', tensor: w}], weightDecay: 0.1},
      {params: [{name: 'b', tensor: b}], weightDecay: 0, lrScale: 2},
    ])
    const gradsByStep = [0, 1, 2].map(() => [rng.floats(5), rng.floats(3)])
    // Reference in double, written from the PyTorch docs' algorithm.
    const ref = [w0, b0].map((p) => ({p: [...p], m: p.map(() => 0), v: p.map(() => 0)}))
    const lr = 0.05
    gradsByStep.forEach((grads, s) => {
      scope(() => opt.step(grads.map((g) => tensor(g)), {lr, gradScale: 0.5}))
      ref.forEach((r, gi) => {
        const glr = lr * (gi === 1 ? 2 : 1)
        const wd = gi === 0 ? 0.1 : 0
        r.p.forEach((_, i) => {
          const g = grads[gi][i] * 0.5
          r.p[i] *= 1 - glr * wd
          r.m[i] = 0.9 * r.m[i] + 0.1 * g
          r.v[i] = 0.95 * r.v[i] + 0.05 * g * g
          const mhat = r.m[i] / (1 - 0.9 ** (s + 1))
          const vhat = r.v[i] / (1 - 0.95 ** (s + 1))
          r.p[i] -= (glr * mhat) / (Math.sqrt(vhat) + 1e-8)
        })
      })
    })
    const [gotW, gotB] = [await w.toArray(), await b.toArray()]
    ref[0].p.forEach((v, i) => expect(gotW[i]).toBeCloseTo(v, 5))
    ref[1].p.forEach((v, i) => expect(gotB[i]).toBeCloseTo(v, 5))
    expect(opt.stepCount).toBe(3)
  })

  it('puts norms, biases, D, A_log and dt_bias in the group without weight decay', () => {
    const names = ['model.layers.0.input_layernorm.weight', 'model.norm.weight', 'lm_head.bias', 'mixer.dt_bias', 'mixer.z_bias', 'mixer.D', 'mixer.A_log', 'mixer.in_proj.weight', 'model.embed_tokens.weight', 'mlp.down_proj.weight']
    expect(names.filter(isNoDecay)).toEqual(names.slice(0, 7))
    const groups = decayGroups(names.map((name) => ({name, tensor: tensor([1])})), 0.1)
    expect(groups.map((g) => [g.weightDecay, g.params.length])).toEqual([[0.1, 3], [0, 7]])
  })
})

describe('gradient clipping and accumulation', () => {
  it('computes the global norm and the clipping factor', async () => {
    const grads = [tensor([3, 0, 0, 4], [2, 2]), tensor([12])]
    expect(await clipGradNorm(grads, 100)).toEqual({norm: 13, gradScale: 1})
    const clipped = await clipGradNorm(grads, 1)
    expect(clipped.norm).toBe(13)
    expect(clipped.gradScale).toBeCloseTo(1 / 13, 6)
    const averaged = await clipGradNorm(grads, 1, 0.5)
    expect(averaged.norm).toBeCloseTo(6.5, 6)
    expect(averaged.gradScale).toBeCloseTo(0.5 / 6.5, 6)
  })

  it('accumulated micro-batch gradients, averaged, equal the full batch gradient', async () => {
    const w = tensor([0.5, -1, 2])
    w.requiresGrad = true
    const rows = [[1, 2, 3], [-1, 0.5, 2], [0, 1, -3], [2, 2, 1]]
    const gradOf = (batch: number[][]): Tensor => {
      const x = tensor(batch.flat(), [batch.length, 3])
      const {result: loss} = withTape(() => mean(sum(mul(mul(x, w), mul(x, w)), 1)))
      return backward(loss, [w])[0]
    }
    const acc = new GradAccumulator()
    acc.add([gradOf(rows.slice(0, 2))])
    acc.add([gradOf(rows.slice(2))])
    const {grads, count} = acc.take()
    expect(count).toBe(2)
    const full = await gradOf(rows).toArray()
    const summed = await grads[0].toArray()
    full.forEach((v, i) => expect(summed[i] / count).toBeCloseTo(v, 5))
    expect(() => acc.take()).toThrow(/no gradients/)
  })
})

describe('warmup-stable-decay schedule', () => {
  it('warms up from 0 over 10%, holds the peak, decays to the floor over the last 10%', () => {
    const s = {peak: 1e-3, totalSteps: 100}
    expect(wsdLearningRate(0, s)).toBe(0)
    expect(wsdLearningRate(5, s)).toBeCloseTo(5e-4, 12)
    expect(wsdLearningRate(10, s)).toBe(1e-3)
    expect(wsdLearningRate(89, s)).toBe(1e-3)
    expect(wsdLearningRate(94, s)).toBeCloseTo(1e-3 - 0.5 * (1e-3 - 1e-8), 12)
    expect(wsdLearningRate(99, s)).toBeCloseTo(1e-8, 12)
  })
})
