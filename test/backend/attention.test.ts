import {describe, it} from 'vitest'
import {attention, type AttentionParams} from '../../src/kernels/attention.js'
import {referenceBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

const gpu = await webgpuBackend()
const cpu = referenceBackend()

type Shape = Pick<AttentionParams, 'batch' | 'tq' | 'tk' | 'hq' | 'hkv' | 'd'>

async function check(shape: Shape, rng: Rng, opts: {headMask: boolean; returnProbs: boolean; scale?: number}): Promise<void> {
  const {batch, tq, tk, hq, hkv, d} = shape
  const p: AttentionParams = {...shape, scale: opts.scale ?? 1 / Math.sqrt(d), headMask: opts.headMask, returnProbs: opts.returnProbs}
  const inputs = [rng.floats(batch * tq * hq * d, 2), rng.floats(batch * tk * hkv * d, 2), rng.floats(batch * tk * hkv * d)]
  // A zero in the mask ablates a head: its output must be exactly zero.
  if (opts.headMask) inputs.push(Float32Array.from({length: hq}, (_, h) => (h % 3 === 1 ? 0 : 0.5 + rng.next())))
  const sizes = [batch * tq * hq * d, ...(opts.returnProbs ? [batch * hq * tq * tk] : [])]
  const want = await runKernel(cpu, attention, p, inputs, sizes)
  const got = await runKernel(gpu!, attention, p, inputs, sizes)
  const label = `attention ${JSON.stringify(p)} (seed ${rng.seed})`
  expectClose(got[0], want[0], `${label} out`, {rtol: 1e-5, atol: 1e-6})
  if (opts.returnProbs) expectClose(got[1], want[1], `${label} probs`, {rtol: 1e-5, atol: 1e-7})
}

describe.skipIf(!gpu)('attention: WebGPU vs CPU', () => {
  it('fixed shapes: single element, GQA groups, a key cache longer than the queries, head dims past the workgroup', async () => {
    const rng = new Rng(77)
    const shapes: Shape[] = [
      {batch: 1, tq: 1, tk: 1, hq: 1, hkv: 1, d: 1},
      {batch: 2, tq: 5, tk: 5, hq: 4, hkv: 2, d: 8},
      {batch: 1, tq: 3, tk: 10, hq: 6, hkv: 2, d: 16},
      {batch: 1, tq: 9, tk: 9, hq: 2, hkv: 1, d: 80},
      {batch: 2, tq: 7, tk: 7, hq: 3, hkv: 3, d: 130},
      {batch: 1, tq: 130, tk: 130, hq: 2, hkv: 1, d: 4},
    ]
    for (const shape of shapes) {
      await check(shape, rng, {headMask: true, returnProbs: true})
      await check(shape, rng, {headMask: false, returnProbs: false, scale: 0.3})
    }
  })

  it('random shapes, with and without mask and probabilities', async () => {
    const rng = new Rng(2024)
    for (let trial = 0; trial < 6; trial++) {
      const hkv = rng.int(1, 3)
      const tq = rng.int(1, 40)
      const shape = {batch: rng.int(1, 2), tq, tk: tq + rng.pick([0, 0, rng.int(1, 30)]), hq: hkv * rng.int(1, 3), hkv, d: rng.int(1, 70)}
      await check(shape, rng, {headMask: rng.next() < 0.5, returnProbs: rng.next() < 0.5})
    }
  })

  it('keys past the 2048-score workgroup buffer (the chunked path), up to tk = 4200', async () => {
    const rng = new Rng(4096)
    await check({batch: 1, tq: 2, tk: 4200, hq: 2, hkv: 1, d: 8}, rng, {headMask: false, returnProbs: true})
    await check({batch: 1, tq: 3, tk: 2049, hq: 1, hkv: 1, d: 5}, rng, {headMask: true, returnProbs: true})
  })
})
