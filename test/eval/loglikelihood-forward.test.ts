import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {fromArray, scopeAsync, type Tensor} from '../../src/engine/tensor.js'
import {encodePair, loglikelihood} from '../../src/eval/loglikelihood.js'
import {loadTeacher} from '../../src/models/load.js'
import {loadTokenizer} from '../../src/tokenizer/load.js'
import {webgpuBackend} from '../helpers/backends.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'

/** Different lengths, so batches of 3 are right-padded; one context ends in a space (moved to the continuation). */
const REQUESTS = [
  {context: 'Memorize the following dictionary:\nriver:7\nengine:93\nThe value of river is', continuation: ' 7'},
  {context: 'The value of the key', continuation: ' engine is 93.'},
  {context: 'Question: which word came first? Answer: ', continuation: 'river'},
  {context: 'x', continuation: ' naïve café'},
  {context: 'A long haystack of words, one after another, until the needle.', continuation: ' needle'},
  // Continuations of the first context that are prefixes of one another: they share rows.
  {context: 'Memorize the following dictionary:\nriver:7\nengine:93\nThe value of river is', continuation: ' 72'},
  {context: 'Memorize the following dictionary:\nriver:7\nengine:93\nThe value of river is', continuation: ' 75'},
  {context: 'Memorize the following dictionary:\nriver:7\nengine:93\nThe value of river is', continuation: ' 93'},
]

describe("eval's log-likelihoods are those of a full forward pass", () => {
  let fixture: Awaited<ReturnType<typeof tinyModelWithTokenizer>>
  beforeAll(async () => {
    fixture = await tinyModelWithTokenizer()
  })
  afterAll(() => fixture.cleanup())

  /** Σ log softmax(forward(context + continuation) logits at t - 1)[token t] over the continuation, in float64, one request at a time. */
  async function byHand(backend: Backend) {
    const model = await loadTeacher(fixture.folder, backend)
    const tok = await loadTokenizer(fixture.folder)
    const V = model.vocabSize
    const want = []
    for (const r of REQUESTS) {
      const {context, continuation} = encodePair(tok, r.context, r.continuation)
      const ids = [...context, ...continuation]
      const logits = await scopeAsync(async () => model.forward(fromArray(backend, Int32Array.from(ids), [1, ids.length])).logits.toFloat32())
      let logprob = 0
      let isGreedy = true
      for (let t = context.length; t < ids.length; t++) {
        const row = Array.from(logits.subarray((t - 1) * V, t * V))
        const max = Math.max(...row)
        const logZ = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0))
        logprob += row[ids[t]] - logZ
        isGreedy &&= row[ids[t]] === max
      }
      want.push({logprob, isGreedy, tokens: continuation.length})
    }
    return {model, tok, want}
  }

  for (const name of ['CPU', 'WebGPU']) {
    it(`in padded batches of 3, to 1e-4 (${name})`, async () => {
      const backend = name === 'CPU' ? new CpuBackend() : await webgpuBackend()
      if (!backend) return
      const {model, tok, want} = await byHand(backend)
      const got = await loglikelihood(model, tok, REQUESTS, 3)
      got.forEach((g, i) => {
        expect(Math.abs(g.logprob - want[i].logprob), REQUESTS[i].continuation).toBeLessThan(1e-4)
        expect(g.isGreedy).toBe(want[i].isGreedy)
        expect(g.tokens).toBe(want[i].tokens)
      })
      for (const w of model.weights.values()) w.dispose()
    })
  }

  it('forwards one row for continuations that extend one another (" 7" on the row of " 72")', async () => {
    const backend = new CpuBackend()
    const {model, tok, want} = await byHand(backend)
    let rows = 0
    const counting = {backend, vocabSize: model.vocabSize, forward: (ids: Tensor, opts?: {logitRows?: Tensor}) => ((rows += ids.shape[0]), model.forward(ids, opts))}
    const got = await loglikelihood(counting, tok, REQUESTS.slice(5).concat(REQUESTS[0]), 8)
    // ' 72' and ' 75' differ in their last token only (one row each is needed: their inputs are the
    // same, so they share one); ' 7' rides on it; ' 93' has its own.
    expect(rows).toBe(2)
    expect(got.map((g) => g.logprob)).toEqual([5, 6, 7, 0].map((i) => expect.closeTo(want[i].logprob, 4)))
  })
})
