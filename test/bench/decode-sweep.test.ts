import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {largestBatch, planCells, sequenceBytes, sweepModel, type SweepLine} from '../../bench/decode-sweep.js'
import {loadModel} from '../../src/models/load-model.js'
import {fixtureReference} from '../helpers/paths.js'

describe('decode sweep', () => {
  it('the largest batch: memory left after the weights over state and activations, each cache tensor within one binding', () => {
    const f = {deviceBytes: 1000, weightBytes: 200, stateBytes: 70, activationBytes: 10, largestTensorBytes: 5, maxBindingBytes: 1000}
    expect(largestBatch(f)).toBe(10)
    expect(largestBatch({...f, maxBindingBytes: 36})).toBe(7)
    expect(largestBatch({...f, weightBytes: 2000})).toBe(0)
  })

  it('cells: powers of two then the largest batch, smallest batch x context first', () => {
    const cells = planCells([100, 400], (L) => (L === 100 ? 6 : 2))
    expect(cells).toEqual([
      {context: 100, batch: 1}, {context: 100, batch: 2}, {context: 100, batch: 4},
      {context: 400, batch: 1}, {context: 100, batch: 6}, {context: 400, batch: 2},
    ])
    expect(planCells([100], () => 0)).toEqual([])
    // --min-batch 8 --max-batch 8: the one cell a profile of batch 8 wants; a context where 8 does not fit has none.
    expect(planCells([100, 400], (L) => (L === 100 ? 8 : 4), 8)).toEqual([{context: 100, batch: 8}])
  })

  it('a tiny teacher: every cell measured, the state per sequence is the memory model plus the timed steps, a passed deadline skips', async () => {
    const model = await loadModel(join(fixtureReference, 'llama-tiny'), new CpuBackend())
    const lines: SweepLine[] = []
    const opts = {contexts: [16, 32], maxBatch: 2, steps: 2, deviceBytes: 2 ** 30, prefillTokens: 32, deadline: Infinity}
    await sweepModel(model, 'tiny', opts, (l) => lines.push(l))
    expect(lines.map((l) => [l.context, l.batch, l.status, l.prefill])).toEqual([
      [16, 1, 'ok', 'real'], [16, 2, 'ok', 'real'], [32, 1, 'ok', 'real'], [32, 2, 'ok', 'skipped'],
    ])
    for (const l of lines) {
      expect(l.decode_tok_s).toBeGreaterThan(0)
      expect(Number.isFinite(l.decode_tok_s)).toBe(true)
      // The cache holds 2 warm-up and 2 timed steps beyond the context.
      expect(l.state_bytes_per_seq).toBe(sequenceBytes(model, l.context + 4))
    }
    const skipped: SweepLine[] = []
    await sweepModel(model, 'tiny', {...opts, deadline: 0}, (l) => skipped.push(l))
    expect(skipped.map((l) => l.status)).toEqual(['skipped', 'skipped', 'skipped', 'skipped'])
  })
})
