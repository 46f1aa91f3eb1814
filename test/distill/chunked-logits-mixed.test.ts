import {describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {chunkedLogitLoss} from '../../src/distill/chunked-logits.js'
import {backward, withTape} from '../../src/engine/autograd.js'
import {distillationLoss} from '../../src/engine/losses.js'
import {linear} from '../../src/engine/ops.js'
import {withPrecision, type Precision} from '../../src/engine/precision.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import {webgpuBackend} from '../helpers/backends.js'
import {Rng} from '../helpers/random.js'

/**
 * Stage 3's chunked logit loss in mixed precision, at the regime of a large model: N rows, a V-token
 * vocabulary and near-flat distributions make each logit's gradient about 1/(N·V), here ~1e-8,
 * under f16's smallest subnormal (6e-8). Each chunk's backward runs during the forward; seeded with
 * 1 instead of the loss scale, its f16-rounded logit gradients flush to zero and the LM head's and
 * the hidden states' gradients shrink (measured before the fix: relative error 0.97).
 */
const gpu = await webgpuBackend()
const [N, C, V] = [256, 16, 8192]
const SCALE = 2 ** 16

async function gradients(backend: Backend, precision: Precision, scale: number): Promise<Float32Array[]> {
  const rng = new Rng(33)
  const hidden = fromArray(backend, rng.floats(N * C, 0.1), [N, C])
  const weight = fromArray(backend, rng.floats(V * C, 0.1), [V, C])
  const teacherHidden = fromArray(backend, rng.floats(N * C, 0.1), [N, C])
  for (const t of [hidden, weight]) t.requiresGrad = true
  const head = (h: Tensor) => linear(h, weight)
  const {result} = withTape(() => withPrecision(precision, () => chunkedLogitLoss({
    hidden, head, headWeights: [weight], teacherHidden, teacherHead: head, vocabSize: V,
    loss: (s, t) => distillationLoss(s, t, {loss: 'ce', temperature: 1}),
  }), scale))
  const seed = fromArray(backend, Float32Array.of(scale), result.shape)
  const grads = backward(result, [hidden, weight], {seed})
  return Promise.all(grads.map(async (g) => Float32Array.from(await g.toArray(), (v) => v / scale)))
}

function relativeError(got: Float32Array, want: Float32Array): number {
  let diff = 0
  let size = 0
  want.forEach((w, i) => {
    diff += (got[i] - w) ** 2
    size += w * w
  })
  return Math.sqrt(diff / size)
}

describe('chunked logits under --precision mixed: each chunk\'s backward is seeded with the loss scale', () => {
  // Four chunks (a binding of 64 rows of logits), as stage 3 cuts the logits of a long batch.
  const backends: [string, () => Promise<Backend | undefined>][] = [
    ['CPU', async () => new CpuBackend({maxBindingBytes: 64 * V * 4})],
    ['WebGPU', async () => gpu],
  ]
  for (const [name, make] of backends) {
    it.skipIf(name === 'WebGPU' && !gpu)(`${name}: the hidden states' and the head's gradients are the f32 ones to 1e-2`, async () => {
      const backend = (await make())!
      const [f32, mixed] = [await gradients(backend, 'f32', 1), await gradients(backend, 'mixed', SCALE)]
      expect(f32[0].some((v) => Math.abs(v) > 0)).toBe(true)
      for (const [i, what] of ['hidden', 'head weight'].entries()) expect(relativeError(mixed[i], f32[i]), what).toBeLessThanOrEqual(1e-2)
    })
  }

  it('CPU: in four chunks, the mixed gradients are the unchunked mixed ones (summed in another order)', async () => {
    const [chunked, whole] = [await gradients(new CpuBackend({maxBindingBytes: 64 * V * 4}), 'mixed', SCALE), await gradients(new CpuBackend(), 'mixed', SCALE)]
    for (const [i, what] of ['hidden', 'head weight'].entries()) expect(relativeError(chunked[i], whole[i]), what).toBeLessThanOrEqual(1e-5)
  })
})
