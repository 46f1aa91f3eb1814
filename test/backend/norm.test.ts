import {describe, it} from 'vitest'
import {layernorm, rmsnorm} from '../../src/kernels/norm.js'
import {cpuBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

const gpu = await webgpuBackend()
const cpu = cpuBackend()

describe.skipIf(!gpu)('row norms: WebGPU vs CPU', () => {
  it.each([rmsnorm, layernorm])('$name over random shapes, cols around the 256-thread workgroup', async (kernel) => {
    const rng = new Rng(kernel.name.length)
    const shapes = [[1, 1], [3, 255], [2, 256], [5, 257], [1, 2049], [rng.int(1, 9), rng.int(2, 700)], [rng.int(1, 9), rng.int(2, 700)]]
    for (const [rows, cols] of shapes) {
      // An offset makes layernorm's mean matter; the weights and bias are not ones and zeros.
      const x = rng.floats(rows * cols, 2).map((v) => v + 0.5)
      const inputs = [x, rng.floats(cols), rng.floats(cols)].slice(0, kernel.name === 'rmsnorm' ? 2 : 3)
      const params = {rows, cols, eps: 1e-5}
      const [want] = await runKernel(cpu, kernel, params, inputs, [rows * cols])
      const [got] = await runKernel(gpu!, kernel, params, inputs, [rows * cols])
      expectClose(got, want, `${kernel.name} [${rows}, ${cols}]`, {rtol: 1e-5, atol: 1e-6})
    }
  })

  it('covers a row grid split over y', async () => {
    const rows = 65536 + 5
    const cols = 3
    const rng = new Rng(2)
    const inputs = [rng.floats(rows * cols), rng.floats(cols)]
    const [want] = await runKernel(cpu, rmsnorm, {rows, cols, eps: 1e-6}, inputs, [rows * cols])
    const [got] = await runKernel(gpu!, rmsnorm, {rows, cols, eps: 1e-6}, inputs, [rows * cols])
    expectClose(got, want, `rmsnorm [${rows}, ${cols}]`)
  })
})
