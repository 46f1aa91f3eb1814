import {describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {fromArray} from '../../src/engine/tensor.js'
import {tokenLogprobs} from '../../src/eval/token-logprobs.js'
import type {LanguageModel} from '../../src/models/language-model.js'
import {logNormalizer} from '../../src/serve/sequence-logprobs.js'
import {cpuBackend, webgpuBackend} from '../helpers/backends.js'
import {randomArray} from '../../bench/cases.js'

/**
 * eval's scores are normalised on the device (cross-entropy rows and an argmax); they must be the
 * host's float64 log-softmax of the same logits, on the CPU and on WebGPU, at a vocabulary wide
 * enough that the row reductions take several passes.
 */
const V = 50_000
/** A "model" whose logits at picked row i are fixed random numbers (scaled to a realistic spread), one row with a tie for the max. */
function fakeModel(backend: Backend, rows: number): {lm: LanguageModel; logits: Float32Array} {
  const logits = randomArray(rows * V, 7).map((x) => 12 * x)
  logits[2 * V + 11] = logits[2 * V + 40_000] = 9
  return {logits, lm: {backend, vocabSize: V, forward: () => ({logits: fromArray(backend, logits, [rows, V])})}}
}

async function check(backend: Backend): Promise<void> {
  const positions = [[{t: 0, target: 3}, {t: 1, target: 49_999}], [{t: 0, target: 11}, {t: 2, target: 40_000}]]
  const {lm, logits} = fakeModel(backend, 4)
  const scored = (await tokenLogprobs(lm, [[1, 2, 3], [4, 5, 6]], positions)).flat()
  const targets = positions.flat().map((p) => p.target)
  targets.forEach((target, i) => {
    const row = logits.subarray(i * V, (i + 1) * V)
    const {logZ, argmax} = logNormalizer(row)
    expect(scored[i].logprob).toBeCloseTo(row[target] - logZ, 4)
    expect(scored[i].greedy).toBe(argmax === target)
  })
  // Row 2's maximum is tied at 11 and 40,000: greedy is the first, as the host's argmax says.
  expect(scored.map((s) => s.greedy)).toEqual([false, false, true, false])
}

describe('eval tokenLogprobs: log-softmax and argmax on the device', () => {
  it('matches the host normaliser on the CPU', () => check(cpuBackend()))
  it('matches the host normaliser on WebGPU', async (ctx) => {
    const gpu = await webgpuBackend()
    if (!gpu) return ctx.skip()
    await check(gpu)
  })
})
