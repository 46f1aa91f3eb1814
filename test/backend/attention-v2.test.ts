import {describe, it} from 'vitest'
import {attentionVersions, type AttentionVersionParams} from '../../dev/kernels/attention.js'
import type {AttentionParams} from '../../src/kernels/attention.js'
import {referenceBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

const gpu = await webgpuBackend()
const cpu = referenceBackend()

type Shape = Pick<AttentionParams, 'batch' | 'tq' | 'tk' | 'hq' | 'hkv' | 'd'>

/** Version 2 (flash tiles) against the CPU twin; small tiles make small shapes span many of them. */
async function check(shape: Shape, rng: Rng, extra: Partial<AttentionVersionParams>): Promise<void> {
  const {batch, tq, tk, hq, hkv, d} = shape
  const p: AttentionVersionParams = {...shape, scale: 1 / Math.sqrt(d), headMask: false, returnProbs: false, version: 2, ...extra}
  const kvRows = extra.kvRows ?? tk
  const inputs = [rng.floats(batch * tq * hq * d, 2), rng.floats(batch * kvRows * hkv * d, 2), rng.floats(batch * kvRows * hkv * d)]
  if (p.headMask) inputs.push(Float32Array.from({length: hq}, (_, h) => (h % 3 === 1 ? 0 : 0.5 + rng.next())))
  const [want] = await runKernel(cpu, attentionVersions, p, inputs, [batch * tq * hq * d])
  const [got] = await runKernel(gpu!, attentionVersions, p, inputs, [batch * tq * hq * d])
  expectClose(got, want, `attention v2 ${JSON.stringify(p)} (seed ${rng.seed})`, {rtol: 2e-5, atol: 2e-6})
}

describe.skipIf(!gpu)('attention version 2 (flash tiles): WebGPU vs CPU', () => {
  it('default tiles at head dims 64 and 128, several query and key tiles', async () => {
    const rng = new Rng(64)
    await check({batch: 1, tq: 130, tk: 130, hq: 2, hkv: 1, d: 64}, rng, {})
    await check({batch: 2, tq: 40, tk: 70, hq: 2, hkv: 2, d: 128}, rng, {headMask: true})
  })

  it('small tiles over GQA groups, key caches longer than the queries, preallocated caches, partial last tiles', async () => {
    const rng = new Rng(8)
    for (const [rows, keys] of [[8, 4], [16, 8], [4, 16]]) {
      await check({batch: 2, tq: 37, tk: 37, hq: 4, hkv: 2, d: 8}, rng, {tile: {rows, keys}})
      await check({batch: 1, tq: 5, tk: 29, hq: 6, hkv: 3, d: 12}, rng, {tile: {rows, keys}, headMask: true})
      await check({batch: 1, tq: 1, tk: 1, hq: 1, hkv: 1, d: 4}, rng, {tile: {rows, keys}})
      await check({batch: 2, tq: 3, tk: 9, hq: 2, hkv: 1, d: 8}, rng, {tile: {rows, keys}, kvRows: 16})
    }
  })
})
