import {describe, expect, it} from 'vitest'
import {conv1d} from '../../src/engine/ssm-ops.js'
import {fromArray} from '../../src/engine/tensor.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'
import {F64Backend, gradCheck, randomInput} from './helpers.js'

/** PyTorch's recipe spelled out: pad W-1 zeros on the left of time, then slide the kernel. */
function referenceConv(x: Float32Array, w: Float32Array, bias: Float32Array | undefined, [batch, seq, channels]: number[], width: number): Float64Array {
  const y = new Float64Array(batch * seq * channels)
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      const padded = new Float64Array(seq + width - 1)
      for (let t = 0; t < seq; t++) padded[t + width - 1] = x[(b * seq + t) * channels + c]
      for (let t = 0; t < seq; t++) {
        let acc = bias ? bias[c] : 0
        for (let k = 0; k < width; k++) acc += w[c * width + k] * padded[t + k]
        y[(b * seq + t) * channels + c] = acc
      }
    }
  }
  return y
}

describe('causal depthwise conv1d on CPU', () => {
  it('matches left-padded sliding windows, with and without bias, widths 1 to 5', async () => {
    const rng = new Rng(1)
    const backend = new F64Backend()
    for (const [batch, seq, channels, width, withBias] of [[2, 7, 5, 4, true], [1, 3, 6, 4, false], [3, 9, 2, 1, true], [2, 2, 3, 5, true]] as const) {
      const x = rng.floats(batch * seq * channels)
      const w = rng.floats(channels * width)
      const bias = withBias ? rng.floats(channels) : undefined
      const y = conv1d(fromArray(backend, x, [batch, seq, channels]), fromArray(backend, w, [channels, width]), bias && fromArray(backend, bias, [channels]))
      expect(y.shape).toEqual([batch, seq, channels])
      expectClose(await y.toArray(), referenceConv(x, w, bias, [batch, seq, channels], width), `conv1d ${[batch, seq, channels, width]}`, {rtol: 1e-12, atol: 1e-12})
    }
  })

  it('identity kernel [0, 0, 0, 1] returns its input (Phi-Mamba conv init)', async () => {
    const rng = new Rng(2)
    const x = rng.floats(2 * 5 * 3)
    const w = new Float32Array(3 * 4)
    for (let c = 0; c < 3; c++) w[c * 4 + 3] = 1
    const backend = new F64Backend()
    const y = conv1d(fromArray(backend, x, [2, 5, 3]), fromArray(backend, w, [3, 4]))
    expectClose(await y.toArray(), x, 'identity conv', {rtol: 0, atol: 0})
  })

  it('gradients of x, weight and bias match finite differences', async () => {
    const rng = new Rng(3)
    const inputs = [randomInput(rng, 'x', [2, 6, 3]), randomInput(rng, 'weight', [3, 4]), randomInput(rng, 'bias', [3])]
    await gradCheck(rng, inputs, ([x, w, b]) => conv1d(x, w, b))
  })

  it('gradients without bias, a sequence shorter than the kernel', async () => {
    const rng = new Rng(4)
    await gradCheck(rng, [randomInput(rng, 'x', [3, 2, 5]), randomInput(rng, 'weight', [5, 4])], ([x, w]) => conv1d(x, w))
  })

  it('rejects a weight for another channel count', () => {
    const backend = new F64Backend()
    expect(() => conv1d(fromArray(backend, new Float32Array(12), [1, 4, 3]), fromArray(backend, new Float32Array(8), [2, 4]))).toThrow(/conv1d: x \[1,4,3\], weight \[2,4\]/)
  })
})
