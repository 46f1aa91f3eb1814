import {describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {attention, type AttentionParams} from '../../src/kernels/attention.js'
import {attentionDecode} from '../../src/kernels/attention-decode.js'
import {copyRows, type CopyRowsParams} from '../../src/kernels/copy-rows.js'
import {f16Bits, f16Value} from '../../src/kernels/f16.js'
import type {HostArray} from '../../src/kernels/kernel.js'
import {KvLayerCache} from '../../src/models/decode-cache.js'
import {cpuBackend, referenceBackend, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'

/**
 * The f16 key/value cache's kernels: copy_rows rounding keys and values into it, attention reading
 * it (the CPU widens it; the GPU's versions 2 and 3 read four halves a load), each against the f32 kernel
 * on the widened values, on the CPU (reference and fast path) and on WebGPU (llvmpipe).
 */
const gpu = await webgpuBackend()
const cpu = referenceBackend()

/** Run `kernel` with inputs of the given dtypes (f16 inputs are bit patterns) into f32 outputs, NaN-poisoned. */
async function run<P>(backend: Backend, kernel: typeof attention | typeof copyRows, p: P, inputs: [HostArray, 'f32' | 'f16'][], out: {size: number; dtype: 'f32' | 'f16'; init?: HostArray}): Promise<HostArray> {
  const ins = inputs.map(([data, dtype]) => {
    const s = backend.alloc(data.length, dtype)
    backend.write(s, data)
    return s
  })
  const o = backend.alloc(out.size, out.dtype)
  backend.write(o, out.init ?? new Float32Array(out.size).fill(NaN))
  backend.run(kernel as never, p as never, ins, [o])
  const got = await backend.read(o)
  for (const s of [...ins, o]) backend.free(s)
  return got
}

const halves = (x: Float32Array): Uint16Array => Uint16Array.from(x, (v) => f16Bits(v))
const widened = (h: Uint16Array): Float32Array => Float32Array.from(h, (b) => f16Value(b))

describe('copy_rows into an f16 cache', () => {
  const COPIES: CopyRowsParams[] = [
    {batch: 2, rows: 3, width: 8, srcRows: 3, srcStart: 0, dstRows: 10, dstStart: 4, toF16: true},
    {batch: 3, rows: 1, width: 6, srcRows: 1, srcStart: 0, dstRows: 7, dstStart: 6, toF16: true},
    {batch: 1, rows: 300, width: 34, srcRows: 300, srcStart: 0, dstRows: 400, dstStart: 100, toF16: true},
  ]
  for (const [name, backend] of [['CPU', () => cpu], ['WebGPU', () => gpu]] as const) {
    it.skipIf(name === 'WebGPU' && !gpu)(`${name}: the addressed rows hold the values rounded to nearest f16 (f16.ts's bits), the rest as it was`, async () => {
      const rng = new Rng(31)
      for (const p of COPIES) {
        // Values past f16's range too: they round to inf, as the host's f16Bits does.
        const src = rng.floats(p.batch * p.srcRows * p.width, 3)
        src[1] = 70000
        const before = halves(rng.floats(p.batch * p.dstRows * p.width))
        const want = before.slice()
        for (let b = 0; b < p.batch; b++) {
          for (let i = 0; i < p.rows * p.width; i++) want[(b * p.dstRows + p.dstStart) * p.width + i] = f16Bits(src[(b * p.srcRows + p.srcStart) * p.width + i])
        }
        const got = await run(backend()!, copyRows, p, [[src, 'f32']], {size: want.length, dtype: 'f16', init: before})
        expect(Array.from(got), JSON.stringify(p)).toEqual(Array.from(want))
      }
    })
  }
})

describe('attention over an f16 cache', () => {
  type Shape = Pick<AttentionParams, 'batch' | 'tq' | 'tk' | 'hq' | 'hkv' | 'd' | 'kvRows' | 'headMask'>
  const SHAPES: Shape[] = [
    {batch: 3, tq: 1, tk: 37, hq: 4, hkv: 2, d: 8, kvRows: 50, headMask: false},
    {batch: 2, tq: 1, tk: 300, hq: 8, hkv: 2, d: 64, headMask: true},
    {batch: 1, tq: 1, tk: 129, hq: 2, hkv: 1, d: 128, kvRows: 140, headMask: false},
    // A prompt's rows (prefill into the cache): version 2 on the GPU.
    {batch: 2, tq: 5, tk: 70, hq: 6, hkv: 3, d: 16, kvRows: 80, headMask: true},
  ]

  async function check(shape: Shape, rng: Rng): Promise<void> {
    const {batch, tq, hq, hkv, d} = shape
    const rows = shape.kvRows ?? shape.tk
    const p: AttentionParams = {...shape, scale: 1 / Math.sqrt(d), returnProbs: false}
    const q = rng.floats(batch * tq * hq * d, 2)
    const [k, v] = [halves(rng.floats(batch * rows * hkv * d, 2)), halves(rng.floats(batch * rows * hkv * d))]
    const mask: [HostArray, 'f32'][] = p.headMask ? [[Float32Array.from({length: hq}, (_, h) => (h % 3 === 1 ? 0 : 0.5 + rng.next())), 'f32']] : []
    const out = {size: batch * tq * hq * d, dtype: 'f32' as const}
    const label = `${JSON.stringify(shape)} (seed ${rng.seed})`
    // The f32 kernel over the widened values is what f16 must give.
    const want = await run(cpu, attention, p, [[q, 'f32'], [widened(k), 'f32'], [widened(v), 'f32'], ...mask], out)
    const f16 = {...p, kvDtype: 'f16' as const}
    const inputs: [HostArray, 'f32' | 'f16'][] = [[q, 'f32'], [k, 'f16'], [v, 'f16'], ...mask]
    expect(Array.from(await run(cpu, attention, f16, inputs, out)), `reference ${label}`).toEqual(Array.from(want))
    expectClose(await run(cpuBackend(), attention, f16, inputs, out) as Float32Array, want as Float32Array, `fast path ${label}`, {rtol: 1e-5, atol: 1e-6})
    if (gpu) expectClose(await run(gpu, attention, f16, inputs, out) as Float32Array, want as Float32Array, `WebGPU ${label}`, {rtol: 2e-5, atol: 2e-6})
  }

  it('the CPU reference, the CPU fast path and WebGPU give the f32 attention of the widened keys and values', async () => {
    const rng = new Rng(32)
    for (const shape of SHAPES) await check(shape, rng)
  })

  it('WebGPU reads an f16 cache as an f32 one: a step\'s row with version 3, a prompt\'s rows with version 2\'s flash tiles', () => {
    const p: AttentionParams = {batch: 1, tq: 9, tk: 9, hq: 2, hkv: 1, d: 64, scale: 1, headMask: false, returnProbs: false, kvDtype: 'f16'}
    expect(attention.gpu.key(p)).toMatch(/^v2:.*f16/)
    expect(attention.gpu.key({...p, tq: 1})).toMatch(/^v3:.*f16/)
  })

  it.skipIf(!gpu)('version 3 reads a prompt\'s rows over an f16 cache as well (WebGPU against the CPU)', async () => {
    const rng = new Rng(33)
    const p: AttentionParams = {batch: 2, tq: 5, tk: 70, hq: 6, hkv: 3, d: 16, kvRows: 80, scale: 0.25, headMask: false, returnProbs: false, kvDtype: 'f16'}
    const q = rng.floats(2 * 5 * 6 * 16, 2)
    const [k, v] = [halves(rng.floats(2 * 80 * 3 * 16, 2)), halves(rng.floats(2 * 80 * 3 * 16))]
    const inputs: [HostArray, 'f32' | 'f16'][] = [[q, 'f32'], [k, 'f16'], [v, 'f16']]
    const out = {size: q.length, dtype: 'f32' as const}
    expectClose(await run(gpu!, {...attention, gpu: attentionDecode}, p, inputs, out) as Float32Array, await run(cpu, attention, p, inputs, out) as Float32Array, 'v3, 5 rows', {rtol: 2e-5, atol: 2e-6})
  })

  it('an f16 cache is refused for a head dim version 3 cannot read, in one line', () => {
    expect(() => KvLayerCache.allocate(cpu, 1, 4, 2, 6, 'f16')).toThrow(/an f16 key\/value cache needs a head dim that is a multiple of 4, at most 128; this model's is 6/)
    const ok = KvLayerCache.allocate(cpu, 2, 4, 2, 8, 'f16')
    expect(ok.bytes).toBe(2 * (2 * 4 * 2 * 8) * 2)
    ok.dispose()
  })
})
