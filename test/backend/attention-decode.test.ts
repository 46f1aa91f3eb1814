import {describe, expect, it} from 'vitest'
import {attention, type AttentionParams} from '../../src/kernels/attention.js'
import {attentionDecode} from '../../src/kernels/attention-decode.js'
import {cpuBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

const gpu = await webgpuBackend()
const cpu = cpuBackend()

type Shape = Pick<AttentionParams, 'batch' | 'tq' | 'tk' | 'hq' | 'hkv' | 'd'>

/** Version 3 (keys split over a workgroup's threads) against the CPU twin. */
async function check(shape: Shape, rng: Rng, extra: Partial<AttentionParams> = {}): Promise<void> {
  const {batch, tq, tk, hq, hkv, d} = shape
  const p: AttentionParams = {...shape, scale: 1 / Math.sqrt(d), headMask: false, returnProbs: false, ...extra}
  const kvRows = extra.kvRows ?? tk
  const inputs = [rng.floats(batch * tq * hq * d, 2), rng.floats(batch * kvRows * hkv * d, 2), rng.floats(batch * kvRows * hkv * d)]
  if (p.headMask) inputs.push(Float32Array.from({length: hq}, (_, h) => (h % 3 === 1 ? 0 : 0.5 + rng.next())))
  const [want] = await runKernel(cpu, attention, p, inputs, [batch * tq * hq * d])
  // Version 3 forced, also where more than one query row would take version 2.
  const [got] = await runKernel(gpu!, {...attention, gpu: attentionDecode}, p, inputs, [batch * tq * hq * d])
  expectClose(got, want, `attention v3 ${JSON.stringify(p)} (seed ${rng.seed})`, {rtol: 2e-5, atol: 2e-6})
}

describe.skipIf(!gpu)('attention version 3 (decode: keys split over threads): WebGPU vs CPU', () => {
  it('one query row over caches shorter and longer than the workgroup, GQA, preallocated caches, head masks', async () => {
    const rng = new Rng(3)
    await check({batch: 1, tq: 1, tk: 1, hq: 1, hkv: 1, d: 4}, rng)
    await check({batch: 3, tq: 1, tk: 37, hq: 4, hkv: 2, d: 8}, rng, {kvRows: 50})
    await check({batch: 2, tq: 1, tk: 300, hq: 8, hkv: 2, d: 64}, rng, {headMask: true})
    await check({batch: 1, tq: 1, tk: 129, hq: 2, hkv: 1, d: 128}, rng, {kvRows: 140})
  })

  it('several query rows at the end of a cache (causal per row)', async () => {
    const rng = new Rng(4)
    await check({batch: 2, tq: 5, tk: 70, hq: 6, hkv: 3, d: 12}, rng, {kvRows: 80, headMask: true})
  })

  it('is the version a one-row call gets by default', () => {
    const p: AttentionParams = {batch: 1, tq: 1, tk: 9, hq: 2, hkv: 1, d: 64, scale: 1, headMask: false, returnProbs: false}
    expect(attention.gpu.key(p)).toMatch(/^v3:/)
    expect(attention.gpu.key({...p, tq: 2, tk: 9})).toMatch(/^v2:/)
  })
})
