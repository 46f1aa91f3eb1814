import {describe, expect, it} from 'vitest'
import type {Backend} from '../src/backend/backend.js'
import {backward, withTape} from '../src/engine/autograd.js'
import {scopeAsync} from '../src/engine/tensor.js'
import {clipGradNorm} from '../src/train/clip.js'
import {AdamW, decayGroups} from '../src/train/optimizer.js'
import {wsdLearningRate} from '../src/train/schedule.js'
import {cpuBackend, webgpuBackend} from './helpers/backends.js'
import {relativeError} from './helpers/compare.js'
import {Rng} from './helpers/random.js'
import {copyBatch, initialWeights, SIZES, TinyLlama} from './train/tiny-llama.js'

/**
 * End to end: a tiny Llama learns to copy the token two places back, with AdamW, clipping and a
 * warmup-stable-decay schedule; on WebGPU its first steps match the CPU's losses to rounding.
 */
const STEPS = 150
const SEED = 7

async function train(backend: Backend, steps: number): Promise<number[]> {
  const model = new TinyLlama(backend, initialWeights(SEED))
  const opt = new AdamW(decayGroups(model.params, 0.01))
  const data = new Rng(SEED + 1)
  const losses: number[] = []
  for (let step = 0; step < steps; step++) {
    const batch = copyBatch(data)
    await scopeAsync(async () => {
      const {result: loss} = withTape(() => model.loss(batch))
      const grads = backward(loss, opt.params)
      const {gradScale} = await clipGradNorm(grads, 1)
      opt.step(grads, {lr: wsdLearningRate(step, {peak: 1e-2, totalSteps: STEPS}), gradScale})
      losses.push((await loss.toArray())[0])
    })
  }
  opt.dispose()
  return losses
}

const gpu = await webgpuBackend()

describe('training smoke test', () => {
  it('a tiny Llama learns a copying task on CPU', async () => {
    const losses = await train(cpuBackend(), STEPS)
    const first = losses[0]
    const last = losses.slice(-10).reduce((a, b) => a + b, 0) / 10
    expect(first).toBeGreaterThan(0.8 * Math.log(SIZES.vocab))
    expect(last, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`).toBeLessThan(0.15 * first)
  })

  it.skipIf(!gpu)('WebGPU follows the CPU loss curve for the first steps', async () => {
    const [onCpu, onGpu] = [await train(cpuBackend(), 5), await train(gpu!, 5)]
    onGpu.forEach((l, i) => expect(Math.abs(l - onCpu[i]) / onCpu[i], `step ${i}: webgpu ${l}, cpu ${onCpu[i]}`).toBeLessThan(1e-4))
  })

  // Adam's first steps barely depend on gradient magnitudes, so check the gradients themselves too.
  it.skipIf(!gpu)('WebGPU gives the CPU gradients of every parameter', async () => {
    const batch = copyBatch(new Rng(SEED))
    const gradients = async (backend: Backend): Promise<Float32Array[]> => {
      const model = new TinyLlama(backend, initialWeights(SEED))
      const {result: loss} = withTape(() => model.loss(batch))
      return Promise.all(backward(loss, model.params.map((p) => p.tensor)).map((g) => g.toFloat32()))
    }
    const [onCpu, onGpu] = [await gradients(cpuBackend()), await gradients(gpu!)]
    const names = initialWeights(SEED).keys()
    for (const [i, name] of [...names].entries()) expect(relativeError(onGpu[i], onCpu[i]), name).toBeLessThan(1e-4)
  })
})
