import {describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {backward, withTape} from '../../src/engine/autograd.js'
import {checkpoint} from '../../src/engine/checkpoint.js'
import {linear, mul, silu, sum} from '../../src/engine/ops.js'
import {withPrecision, type Precision} from '../../src/engine/precision.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import {Rng} from '../helpers/random.js'

/** Activation recomputation: the same gradients as the plain tape, with fewer activations kept. */
describe('checkpoint', () => {
  const backend = new CpuBackend({fast: false})
  const rng = new Rng(3)
  const param = (shape: number[]): Tensor => {
    const t = fromArray(backend, rng.floats(shape.reduce((a, b) => a * b, 1), 0.5), shape)
    t.requiresGrad = true
    return t
  }
  const x0 = param([8, 16])
  const w1 = param([64, 16])
  const w2 = param([16, 64])
  const frozen = fromArray(backend, rng.floats(16 * 16, 0.5), [16, 16])
  // A block: two linears around silu, on an input that is itself on the tape (x0 * x0).
  const block = ([x]: Tensor[]): Tensor => linear(linear(silu(linear(x, w1)), w2), frozen)

  async function run(recompute: boolean, precision: Precision = 'f32'): Promise<{grads: Float32Array[]; kept: number}> {
    backend.resetPeak()
    const before = backend.memory.liveBytes
    const {result: loss, tape} = withTape(() => withPrecision(precision, () => {
      const x = mul(x0, x0)
      const y = recompute ? checkpoint(block, [x], [w1, w2, frozen]) : block([x])
      return sum(mul(y, y))
    }))
    const kept = backend.memory.liveBytes - before
    expect(tape.size).toBe(recompute ? 4 : 7)
    const grads = backward(loss, [x0, w1, w2])
    return {grads: await Promise.all(grads.map((g) => g.toFloat32())), kept}
  }

  it('gives the gradients of the plain tape, and the tape keeps only the block’s input and output', async () => {
    const plain = await run(false)
    const recomputed = await run(true)
    recomputed.grads.forEach((g, i) => g.forEach((v, j) => expect(v).toBeCloseTo(plain.grads[i][j], 6)))
    // Without recompute the [8, 64] hidden activations (and silu's) stay on the tape.
    expect(recomputed.kept).toBeLessThan(plain.kept - 2 * 8 * 64 * 4 + 1)
  })

  it('recomputes in the forward\'s precision: in mixed precision, bit for bit the plain tape\'s gradients (the backward runs outside the context)', async () => {
    const plain = await run(false, 'mixed')
    const recomputed = await run(true, 'mixed')
    recomputed.grads.forEach((g, i) => expect(Array.from(g), `gradient ${i}`).toEqual(Array.from(plain.grads[i])))
    // And mixed is not f32 here, so the check can fail.
    expect(Array.from(plain.grads[1])).not.toEqual(Array.from((await run(false)).grads[1]))
  })
})
