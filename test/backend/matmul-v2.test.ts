import {describe, it} from 'vitest'
import {matmulVersions, type MatmulVersionParams} from '../../dev/kernels/matmul.js'
import type {MatmulParams} from '../../src/kernels/matmul.js'
import type {MatmulTile} from '../../src/kernels/matmul-v2.js'
import {referenceBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

const gpu = await webgpuBackend()
const cpu = referenceBackend()

async function check(shape: MatmulParams, tile: MatmulTile | undefined, rng: Rng): Promise<void> {
  const p: MatmulVersionParams = {...shape, version: 2, tile}
  const a = rng.floats(p.batch * p.m * p.k)
  const b = rng.floats((p.broadcastB ? 1 : p.batch) * p.k * p.n)
  const inputs = p.bias ? [a, b, rng.floats(p.n)] : [a, b]
  const [want] = await runKernel(cpu, matmulVersions, p, inputs, [p.batch * p.m * p.n])
  const [got] = await runKernel(gpu!, matmulVersions, p, inputs, [p.batch * p.m * p.n])
  expectClose(got, want, `matmul v2 ${JSON.stringify(p)} (seed ${rng.seed})`, {rtol: 1e-5, atol: 1e-7 * Math.max(p.k, 10)})
}

describe.skipIf(!gpu)('matmul version 2 (128x128 tiles, vec4, two buffers): WebGPU vs CPU', () => {
  it('all four transpose cases, with and without bias, default tile and bk = 16', async () => {
    const rng = new Rng(202)
    for (const tile of [undefined, {bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, group: 8}]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          await check({batch: 1, m: 256, n: 128, k: 48, transA, transB, broadcastB: false, bias: transA !== transB}, tile, rng)
        }
      }
    }
  })

  it('unrolled slices (two a loop iteration, constant offsets), all four transpose cases', async () => {
    const rng = new Rng(204)
    for (const tile of [{bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, group: 8, unroll: true}, {bm: 64, bn: 64, bk: 16, tm: 8, tn: 4, group: 2, unroll: true}]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          await check({batch: 2, m: 256, n: 128, k: 64, transA, transB, broadcastB: transB, bias: transA === transB}, tile, rng)
        }
      }
    }
  })

  it('other tiles, grouped launch orders with a partial last group, batches with B per entry or broadcast', async () => {
    const rng = new Rng(203)
    await check({batch: 1, m: 5 * 32, n: 3 * 64, k: 16, transA: false, transB: true, broadcastB: false, bias: true}, {bm: 32, bn: 64, bk: 8, tm: 4, tn: 8, group: 2}, rng)
    await check({batch: 1, m: 64, n: 192, k: 48, transA: true, transB: false, broadcastB: false, bias: false}, {bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, group: 3}, rng)
    for (const broadcastB of [false, true]) {
      await check({batch: 3, m: 128, n: 128, k: 24, transA: false, transB: broadcastB, broadcastB, bias: false}, undefined, rng)
    }
  })
})
