import {describe, it} from 'vitest'
import {matmul, type MatmulParams} from '../../src/kernels/matmul.js'
import {referenceBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

const gpu = await webgpuBackend()
const cpu = referenceBackend()

async function check(p: MatmulParams, rng: Rng): Promise<void> {
  const a = rng.floats(p.batch * p.m * p.k)
  const b = rng.floats((p.broadcastB ? 1 : p.batch) * p.k * p.n)
  const inputs = p.bias ? [a, b, rng.floats(p.n)] : [a, b]
  const [want] = await runKernel(cpu, matmul, p, inputs, [p.batch * p.m * p.n])
  const [got] = await runKernel(gpu!, matmul, p, inputs, [p.batch * p.m * p.n])
  // f32 sums of k products differ from the CPU's order by ~k·eps in absolute terms.
  expectClose(got, want, `matmul ${JSON.stringify(p)} (seed ${rng.seed})`, {rtol: 1e-5, atol: 1e-7 * Math.max(p.k, 10)})
}

describe.skipIf(!gpu)('matmul: WebGPU vs CPU', () => {
  it('all four transpose cases, with and without bias, on shapes that miss the 64x64x16 tile', async () => {
    const rng = new Rng(101)
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const bias of [false, true]) {
          const [m, n, k] = [rng.int(1, 150), rng.int(1, 150), rng.int(1, 150)]
          await check({batch: 1, m, n, k, transA, transB, broadcastB: false, bias}, rng)
        }
      }
    }
  })

  it('shapes that fit the tile (unchecked variant) and their neighbours', async () => {
    const rng = new Rng(7)
    for (const [m, n, k] of [[64, 64, 16], [128, 64, 48], [64, 128, 32], [65, 64, 16], [64, 63, 16], [64, 64, 17], [1, 1, 1]]) {
      await check({batch: 1, m, n, k, transA: rng.next() < 0.5, transB: rng.next() < 0.5, broadcastB: false, bias: rng.next() < 0.5}, rng)
    }
  })

  it('batched, with B per batch entry or broadcast', async () => {
    const rng = new Rng(55)
    for (const broadcastB of [false, true]) {
      for (let trial = 0; trial < 3; trial++) {
        const p = {batch: rng.int(2, 5), m: rng.int(1, 90), n: rng.int(1, 90), k: rng.int(1, 90), transA: rng.next() < 0.5, transB: rng.next() < 0.5, broadcastB, bias: rng.next() < 0.5}
        await check(p, rng)
      }
    }
  })

  it('a long K (many tile steps) and K = 0 (bias only)', async () => {
    const rng = new Rng(3)
    await check({batch: 1, m: 33, n: 17, k: 1500, transA: false, transB: true, broadcastB: false, bias: true}, rng)
    await check({batch: 2, m: 5, n: 7, k: 0, transA: false, transB: false, broadcastB: false, bias: true}, rng)
  })
})
