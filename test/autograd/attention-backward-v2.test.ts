import {describe, it} from 'vitest'
import {dkvVersions, dqVersions, statsVersions, type AttentionBackwardVersionParams} from '../../dev/kernels/attention-backward.js'
import type {HostArray, Kernel} from '../../src/kernels/kernel.js'
import {referenceBackend, runKernel, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

/** Version 2 (tiled) of the attention backward kernels against their CPU twins. */
const gpu = await webgpuBackend()
const cpu = referenceBackend()

async function agree<P>(kernel: Kernel<P>, params: P, inputs: HostArray[], sizes: number[], label: string): Promise<void> {
  const want = await runKernel(cpu, kernel, params, inputs, sizes)
  const got = await runKernel(gpu!, kernel, params, inputs, sizes)
  want.forEach((w, i) => expectClose(got[i], w, `${kernel.name} ${label} output ${i}`, {rtol: 1e-4, atol: 1e-5}))
}

async function check(p: AttentionBackwardVersionParams, rng: Rng): Promise<void> {
  const {batch, tq, tk, hq, hkv, d} = p
  const [q, out, gy] = [0, 1, 2].map(() => rng.floats(batch * tq * hq * d, 1.5))
  const [k, v] = [0, 1].map(() => rng.floats(batch * tk * hkv * d, 1.5))
  const mask = Float32Array.from({length: hq}, (_, h) => (h === 1 ? 0 : 0.5 + h))
  const label = JSON.stringify(p)
  await agree(statsVersions, p, [q, k, out, gy], [batch * hq * tq * 2], label)
  const [stats] = await runKernel(cpu, statsVersions, p, [q, k, out, gy], [batch * hq * tq * 2])
  const rest = [q, k, v, gy, stats, ...(p.headMask ? [mask] : [])]
  await agree(dqVersions, p, rest, [q.length], label)
  await agree(dkvVersions, p, rest, [k.length, v.length], label)
}

describe.skipIf(!gpu)('attention backward version 2 (tiled): WebGPU vs CPU', () => {
  it('default tiles, head dim 64, several tiles each way', async () => {
    const rng = new Rng(91)
    await check({batch: 1, tq: 100, tk: 100, hq: 2, hkv: 1, d: 64, scale: 0.125, headMask: false, version: 2}, rng)
  })

  it('small tiles, query ranges split over thread sets, GQA groups, masks, key caches longer than the queries', async () => {
    const rng = new Rng(92)
    for (const [rows, keys, splits] of [[8, 4, 1], [4, 16, 1], [8, 4, 2], [8, 2, 4]]) {
      const tile = {rows, keys, splits}
      await check({batch: 2, tq: 19, tk: 19, hq: 4, hkv: 2, d: 8, scale: 0.4, headMask: true, version: 2, tile}, rng)
      await check({batch: 1, tq: 6, tk: 23, hq: 3, hkv: 1, d: 12, scale: 0.3, headMask: false, version: 2, tile}, rng)
      await check({batch: 1, tq: 1, tk: 1, hq: 1, hkv: 1, d: 4, scale: 1, headMask: false, version: 2, tile}, rng)
    }
  })
})
