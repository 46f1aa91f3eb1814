import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {largestBatch, planCells, sequenceBytes, sweepModel, weightBytesOf, type SweepLine} from '../../bench/decode-sweep.js'
import {loadModel} from '../../src/models/load-model.js'
import type {CacheOptions} from '../../src/models/decode-cache.js'
import {fixtureReference} from '../helpers/paths.js'

describe('decode sweep', () => {
  it('the largest batch: memory left after the weights over state and activations, each cache tensor within one binding', () => {
    const f = {deviceBytes: 1000, weightBytes: 200, stateBytes: 70, activationBytes: 10, largestTensorBytes: 5, maxBindingBytes: 1000}
    expect(largestBatch(f)).toBe(10)
    expect(largestBatch({...f, maxBindingBytes: 36})).toBe(7)
    expect(largestBatch({...f, weightBytes: 2000})).toBe(0)
  })

  it('cells: every context\'s largest batch first (the first contexts leading), then halvings level by level, batch 1 last', () => {
    const largest = (L: number): number => (L === 100 ? 6 : 2)
    expect(planCells([100, 400], largest)).toEqual([
      {context: 100, batch: 6}, {context: 400, batch: 2},
      {context: 100, batch: 3}, {context: 400, batch: 1},
      {context: 100, batch: 1},
    ])
    expect(planCells([100, 400], largest, [400]).slice(0, 2)).toEqual([{context: 400, batch: 2}, {context: 100, batch: 6}])
    expect(planCells([100], () => 0)).toEqual([])
    // --min-batch 8 --max-batch 8: the one cell a profile of batch 8 wants; a context where 8 does not fit has none.
    expect(planCells([100, 400], (L) => (L === 100 ? 8 : 4), [], 8)).toEqual([{context: 100, batch: 8}])
  })

  it('a tiny teacher: every cell measured, the state per sequence is the memory model plus the timed steps, a passed deadline skips', async () => {
    const model = await loadModel(join(fixtureReference, 'llama-tiny'), new CpuBackend())
    const lines: SweepLine[] = []
    const opts = {contexts: [16, 32], maxBatch: 2, steps: 2, deviceBytes: 2 ** 30, prefillTokens: 32, deadline: Infinity}
    await sweepModel(model, 'tiny', opts, (l) => lines.push(l))
    expect(lines.map((l) => [l.context, l.batch, l.status, l.prefill])).toEqual([
      [16, 2, 'ok', 'real'], [32, 2, 'ok', 'skipped'], [16, 1, 'ok', 'real'], [32, 1, 'ok', 'real'],
    ])
    for (const l of lines) {
      expect(l.decode_tok_s).toBeGreaterThan(0)
      expect(Number.isFinite(l.decode_tok_s)).toBe(true)
      expect(l.timed_steps).toBe(2)
      expect(l.encode_ms).toBeGreaterThan(0)
      expect(l.encode_ms).toBeLessThanOrEqual(l.step_ms!)
      expect(l.readback_ms).toBeGreaterThanOrEqual(0)
      expect(Number.isFinite(l.readback_ms)).toBe(true)
      // The cache holds 2 warm-up and 2 timed steps beyond the context.
      expect(l.state_bytes_per_seq).toBe(sequenceBytes(model, l.context + 4))
    }
    const skipped: SweepLine[] = []
    await sweepModel(model, 'tiny', {...opts, deadline: 0}, (l) => skipped.push(l))
    expect(skipped.map((l) => l.status)).toEqual(['skipped', 'skipped', 'skipped', 'skipped'])
  })

  it('mixed linears and an f16 cache: each line says so, the state per sequence counts keys and values at 2 bytes, the weights their f16 copies', async () => {
    const model = await loadModel(join(fixtureReference, 'llama-tiny'), new CpuBackend())
    const lines: SweepLine[] = []
    const opts = {contexts: [16], maxBatch: 2, minBatch: 2, steps: 2, deviceBytes: 2 ** 30, prefillTokens: 32, deadline: Infinity, precision: 'mixed' as const, kvCacheDtype: 'f16' as const}
    await sweepModel(model, 'tiny', opts, (l) => lines.push(l))
    expect(lines.map((l) => [l.status, l.precision, l.kv_cache_dtype])).toEqual([['ok', 'mixed', 'f16']])
    expect(lines[0].decode_tok_s).toBeGreaterThan(0)
    expect(lines[0].state_bytes_per_seq).toBe(sequenceBytes(model, 16 + 4, 'f16'))
    expect(2 * sequenceBytes(model, 20, 'f16')).toBe(sequenceBytes(model, 20))
    const matrices = [...model.weights.values()].filter((w) => w.rank === 2).reduce((s, w) => s + w.numel, 0)
    expect(weightBytesOf(model, 'mixed')).toBe(weightBytesOf(model) + 2 * matrices)
  })

  it('a batch that fails rules out larger ones at its context only, and the halvings below it still run; a cell stops at its time cap', async () => {
    const model = await loadModel(join(fixtureReference, 'llama-tiny'), new CpuBackend())
    const newCache = model.newCache.bind(model)
    model.newCache = (batch: number, capacity: number, opts?: CacheOptions) => {
      if (batch >= 4) throw new Error('out of memory\nsecond line')
      return newCache(batch, capacity, opts)
    }
    const lines: SweepLine[] = []
    const opts = {contexts: [8, 16], maxBatch: 5, steps: 50, deviceBytes: 2 ** 30, prefillTokens: 0, deadline: Infinity, first: [16], cellSeconds: 1e-6}
    await sweepModel(model, 'tiny', opts, (l) => lines.push(l))
    expect(lines.map((l) => [l.context, l.batch, l.status])).toEqual([
      [16, 5, 'error'], [8, 5, 'error'], [16, 2, 'ok'], [8, 2, 'ok'], [16, 1, 'ok'], [8, 1, 'ok'],
    ])
    expect(lines[0].error).toBe('out of memory')
    // The cap ends a cell after the least timed steps, not the 50 asked.
    for (const l of lines.filter((l) => l.status === 'ok')) expect(l.timed_steps).toBe(2)
  })
})
