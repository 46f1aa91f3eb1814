import {describe, expect, it} from 'vitest'
import {embedding} from '../../src/kernels/embedding.js'
import {rope} from '../../src/kernels/rope.js'
import {cpuBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

const gpu = await webgpuBackend()
const cpu = cpuBackend()

describe.skipIf(!gpu)('embedding and rope: WebGPU vs CPU', () => {
  it('embedding gathers rows for random ids and sizes', async () => {
    const rng = new Rng(21)
    for (const [n, vocab, dim] of [[1, 1, 1], [7, 50, 33], [300, 1000, 64], [rng.int(1, 200), rng.int(1, 300), rng.int(1, 300)]]) {
      const ids = rng.ints(n, 0, vocab - 1)
      const table = rng.floats(vocab * dim)
      const params = {n, dim, vocab}
      const [want] = await runKernel(cpu, embedding, params, [ids, table], [n * dim])
      const [got] = await runKernel(gpu!, embedding, params, [ids, table], [n * dim])
      expectClose(got, want, `embedding n=${n} vocab=${vocab} dim=${dim}`, {rtol: 0, atol: 0})
    }
  })

  it('embedding writes NaN rows for ids outside the vocabulary', async () => {
    const table = new Rng(1).floats(4 * 3)
    const [got] = await runKernel(gpu!, embedding, {n: 3, dim: 3, vocab: 4}, [Int32Array.from([1, 4, -1]), table], [9])
    expect(Array.from(got.slice(0, 3))).toEqual(Array.from(table.slice(3, 6)))
    expect(Array.from(got.slice(3)).every(Number.isNaN)).toBe(true)
  })

  it('rope rotates full and partial head dims, forward and inverse', async () => {
    const rng = new Rng(33)
    const shapes = [
      [1, 1, 1, 2, 2],
      [2, 5, 3, 8, 8],
      [1, 7, 2, 80, 32], // Phi's partial rotary
      [2, 33, 5, 64, 64],
      [rng.int(1, 3), rng.int(1, 40), rng.int(1, 6), 2 * rng.int(4, 40), 0],
    ]
    for (const [batch, seq, heads, headDim, rotary] of shapes) {
      const rotaryDim = rotary || 2 * rng.int(1, headDim / 2)
      for (const inverse of [false, true]) {
        const half = rotaryDim / 2
        const inputs = [rng.floats(batch * seq * heads * headDim), rng.floats(seq * half), rng.floats(seq * half)]
        const params = {batch, seq, heads, headDim, rotaryDim, inverse}
        const numel = batch * seq * heads * headDim
        const [want] = await runKernel(cpu, rope, params, inputs, [numel])
        const [got] = await runKernel(gpu!, rope, params, inputs, [numel])
        expectClose(got, want, `rope [${batch}, ${seq}, ${heads}, ${headDim}] rotary ${rotaryDim} inverse ${inverse}`)
      }
    }
  })
})
