import {describe, expect, it} from 'vitest'
import {outerSgdStep} from '../../src/train/outer-sgd.js'

describe('DiLoCo outer SGD', () => {
  it('follows torch.optim.SGD(nesterov=True, dampening=0) for two steps', () => {
    // PyTorch's documented algorithm, by hand: b_1 = g_1, b_t = μ·b_(t−1) + g_t; θ ← θ − lr·(g_t + μ·b_t).
    // Step 1: b = [0.5, −1], update [0.95, −1.9], θ = [0.335, 3.33].
    // Step 2: b = [0.7, −0.4], update [0.88, 0.14], θ = [−0.281, 3.232].
    const theta = Float32Array.of(1, 2)
    const buf = new Float32Array(2)
    outerSgdStep(theta, Float32Array.of(0.5, -1), buf, {lr: 0.7, momentum: 0.9})
    expect([...theta].map((v) => +v.toFixed(5))).toEqual([0.335, 3.33])
    outerSgdStep(theta, Float32Array.of(0.25, 0.5), buf, {lr: 0.7, momentum: 0.9})
    expect([...buf].map((v) => +v.toFixed(5))).toEqual([0.7, -0.4])
    expect([...theta].map((v) => +v.toFixed(5))).toEqual([-0.281, 3.232])
  })

  it('with lr 1 and no momentum moves the parameters by the whole mean delta', () => {
    const theta = Float32Array.of(3, -1)
    outerSgdStep(theta, Float32Array.of(1, -2), new Float32Array(2), {lr: 1, momentum: 0})
    expect([...theta]).toEqual([2, 1])
  })
})
