import {it, expect, describe} from 'vitest'
import {swiglu} from '../../src/kernels/elementwise.js'
import {cpuBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'
const gpu = await webgpuBackend()
const cpu = cpuBackend()
describe('x', () => {
it('opens', async () => {
    const rng = new Rng(9)
    for (const n of [1, 255, 257, 4099]) {
      const g = rng.floats(n, 12)
      const up = rng.floats(n, 3)
      console.log('cpu', n)
      const [want] = await runKernel(cpu, swiglu, {n}, [g, up], [n])
      console.log('gpu', n)
      const [got] = await runKernel(gpu!, swiglu, {n}, [g, up], [n])
      console.log('cmp', n)
      expectClose(got, want, `swiglu n=${n}`, {rtol: 2e-6, atol: 1e-6})
    }
})
})
