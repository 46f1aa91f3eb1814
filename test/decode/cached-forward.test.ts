import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {fromArray, scopeAsync} from '../../src/engine/tensor.js'
import {SafetensorsFile} from '../../src/io/safetensors/reader.js'
import {loadTeacher} from '../../src/models/load.js'
import {webgpuBackend} from '../helpers/backends.js'
import {fixtureReference, sharedReference} from '../helpers/paths.js'

const folders = [join(sharedReference, 'llama-tiny'), join(sharedReference, 'phi-tiny'), join(fixtureReference, 'llama-tied-headdim'), join(fixtureReference, 'llama-rope-llama3')]

async function referenceIds(folder: string): Promise<{ids: Int32Array; B: number; T: number}> {
  const file = await SafetensorsFile.open(join(folder, 'reference.safetensors'))
  try {
    const t = await file.read('input_ids')
    return {ids: t.data as Int32Array, B: t.shape[0], T: t.shape[1]}
  } finally {
    await file.close()
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

/**
 * Feed the reference ids in chunks through a KV cache sized for all of them: a prefill of 7 (all
 * logits), a chunk of 3 (last position only), then one token at a time; compare every chunk's
 * logits with the parallel forward's at the same positions.
 */
async function expectCachedMatchesForward(folder: string, backend: Backend): Promise<void> {
  const model = await loadTeacher(folder, backend)
  const {ids, B, T} = await referenceIds(folder)
  const V = model.vocabSize
  const full = await scopeAsync(async () => model.forward(fromArray(backend, ids, [B, T])).logits.toFloat32())
  const rows = (start: number, count: number): Int32Array => {
    const out = new Int32Array(B * count)
    for (let b = 0; b < B; b++) out.set(ids.subarray(b * T + start, b * T + start + count), b * count)
    return out
  }
  const fullRows = (start: number, count: number): Float32Array => {
    const out = new Float32Array(B * count * V)
    for (let b = 0; b < B; b++) out.set(full.subarray((b * T + start) * V, (b * T + start + count) * V), b * count * V)
    return out
  }
  const cache = model.newCache(B, T)
  const chunks = [{n: 7, lastOnly: false}, {n: 3, lastOnly: true}, ...Array.from({length: T - 10}, () => ({n: 1, lastOnly: false}))]
  let start = 0
  let worst = 0
  for (const {n, lastOnly} of chunks) {
    const got = await scopeAsync(async () => model.forwardCached(fromArray(backend, rows(start, n), [B, n]), cache, {lastOnly}).logits.toFloat32())
    const want = lastOnly ? fullRows(start + n - 1, 1) : fullRows(start, n)
    worst = Math.max(worst, maxAbsDiff(got, want))
    start += n
  }
  expect(cache.length).toBe(T)
  expect(worst, `${folder}: max |cached - forward| over every position`).toBeLessThan(1e-4)
  expect(() => model.forwardCached(fromArray(backend, rows(0, 1), [B, 1]), cache)).toThrow(/do not fit/)
  expect(cache.bytesByKind()).toEqual({kv: model.config.numLayers * 2 * B * T * model.config.numKvHeads * model.config.headDim * 4, ssm: 0})
  cache.dispose()
  for (const w of model.weights.values()) w.dispose()
}

describe('cached decoding gives the parallel forward pass\'s logits (to 1e-4)', () => {
  for (const folder of folders) {
    const name = folder.split('/').at(-1)!
    it(`${name} on CPU`, () => expectCachedMatchesForward(folder, new CpuBackend()))
    it(`${name} on WebGPU`, async () => {
      const gpu = await webgpuBackend()
      if (gpu) await expectCachedMatchesForward(folder, gpu)
    })
  }
})
