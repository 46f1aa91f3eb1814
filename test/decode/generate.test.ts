import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {fromArray, scopeAsync} from '../../src/engine/tensor.js'
import {generate, type GenerateOptions} from '../../src/generate/generate.js'
import {argmaxRow, sampleToken} from '../../src/generate/sampling.js'
import {continuationText, TextStream} from '../../src/generate/text-stream.js'
import {loadTeacher} from '../../src/models/load.js'
import type {TeacherModel} from '../../src/models/teacher.js'
import {loadTokenizer} from '../../src/tokenizer/load.js'
import {Random} from '../../src/util/random.js'
import {webgpuBackend} from '../helpers/backends.js'
import {fixtureReference} from '../helpers/paths.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'

// init std 0.1: peaked distributions, so greedy paths are far from ties.
const folder = join(fixtureReference, 'llama-tied-headdim')
const prompt = [5, 17, 99, 3, 250, 42, 7]
const options = (o: Partial<GenerateOptions>): GenerateOptions => ({maxNewTokens: 12, n: 1, seed: 1, temperature: 0, topP: 1, eosTokenIds: [], ...o})

async function forwardArgmax(model: TeacherModel, ids: number[]): Promise<number[]> {
  const logits = await scopeAsync(async () => model.forward(fromArray(model.backend, Int32Array.from(ids), [1, ids.length])).logits.toFloat32())
  const V = model.vocabSize
  return ids.map((_, t) => argmaxRow(logits.subarray(t * V, (t + 1) * V)))
}

async function expectGreedyIsForwardArgmax(backend: Backend): Promise<void> {
  const model = await loadTeacher(folder, backend)
  const [a, b, c] = await generate(model, prompt, options({n: 3, maxNewTokens: 16}))
  expect(a.tokens).toHaveLength(16)
  expect(a.finishReason).toBe('length')
  expect(b.tokens).toEqual(a.tokens)
  expect(c.tokens).toEqual(a.tokens)
  // Each generated token is the argmax of the full forward at the position before it.
  const all = [...prompt, ...a.tokens]
  const argmax = await forwardArgmax(model, all)
  expect(a.tokens).toEqual(argmax.slice(prompt.length - 1, -1))
  for (const w of model.weights.values()) w.dispose()
}

describe('generate', () => {
  it('greedy decoding is the argmax of the parallel forward, for every sample of a batch (CPU)', () => expectGreedyIsForwardArgmax(new CpuBackend()))
  it('greedy decoding is the argmax of the parallel forward (WebGPU)', async () => {
    const gpu = await webgpuBackend()
    if (gpu) await expectGreedyIsForwardArgmax(gpu)
  })

  it('sampling is fixed by the seed, sample i does not depend on n, and another seed differs', async () => {
    const model = await loadTeacher(folder, new CpuBackend())
    const hot = {temperature: 1.5, topP: 0.95}
    const first = await generate(model, prompt, options({...hot, n: 3, seed: 7}))
    const again = await generate(model, prompt, options({...hot, n: 3, seed: 7}))
    const alone = await generate(model, prompt, options({...hot, n: 1, seed: 7}))
    const other = await generate(model, prompt, options({...hot, n: 3, seed: 8}))
    expect(again).toEqual(first)
    expect(alone[0]).toEqual(first[0])
    expect(other.map((s) => s.tokens)).not.toEqual(first.map((s) => s.tokens))
    expect(new Set(first.map((s) => s.tokens.join(','))).size).toBeGreaterThan(1)
    // Samples 1 and 2 drawn as a batch of their own (firstStream 1) are the same samples.
    const later = await generate(model, prompt, options({...hot, n: 2, seed: 7, firstStream: 1}))
    expect(later).toEqual(first.slice(1))
  })

  it('a sample stops at an end-of-sequence token, which it does not keep; tokens stream as they come', async () => {
    const model = await loadTeacher(folder, new CpuBackend())
    const [greedy] = await generate(model, prompt, options({}))
    const eos = greedy.tokens[3]
    const streamed: number[] = []
    const done: number[] = []
    const [stopped] = await generate(model, prompt, options({eosTokenIds: [eos], onToken: (_, t) => streamed.push(t), onDone: (i) => done.push(i)}))
    expect(stopped.finishReason).toBe('eos')
    expect(stopped.tokens).toEqual(greedy.tokens.slice(0, greedy.tokens.indexOf(eos)))
    expect(streamed).toEqual(stopped.tokens)
    expect(done).toEqual([0])
    expect((await generate(model, prompt, options({maxNewTokens: 0})))[0].tokens).toEqual([])
  })
})

describe('sampling', () => {
  const row = Float32Array.from([1, 3, 2, 0.5, 2.9])

  it('temperature 0 and a tiny top-p are greedy', () => {
    const rng = new Random(1)
    for (let i = 0; i < 20; i++) {
      expect(sampleToken(row, {temperature: 0, topP: 1}, rng)).toBe(1)
      expect(sampleToken(row, {temperature: 1, topP: 1e-6}, rng)).toBe(1)
    }
  })

  it('draws in proportion to softmax(logits / T), and top-p keeps only the nucleus', () => {
    const rng = new Random(2)
    const T = 0.8
    const p = Array.from(row, (x) => Math.exp(x / T))
    const z = p.reduce((a, b) => a + b)
    const counts = new Array(row.length).fill(0)
    const draws = 20000
    for (let i = 0; i < draws; i++) counts[sampleToken(row, {temperature: T, topP: 1}, rng)]++
    counts.forEach((c, i) => expect(Math.abs(c / draws - p[i] / z)).toBeLessThan(0.015))
    // Tokens 1 and 4 hold about 0.81 of the mass at T = 0.8: top-p 0.8 keeps exactly them.
    const kept = new Set<number>()
    for (let i = 0; i < 500; i++) kept.add(sampleToken(row, {temperature: T, topP: 0.8}, rng))
    expect([...kept].sort()).toEqual([1, 4])
  })

  it('top-k keeps the k most likely tokens, before top-p', () => {
    const rng = new Random(3)
    const kept = (o: {topK: number; topP: number}) => {
      const seen = new Set<number>()
      for (let i = 0; i < 500; i++) seen.add(sampleToken(row, {temperature: 5, ...o}, rng))
      return [...seen].sort()
    }
    expect(kept({topK: 3, topP: 1})).toEqual([1, 2, 4])
    expect(kept({topK: 1, topP: 1})).toEqual([1])
    expect(kept({topK: 0, topP: 1})).toEqual([0, 1, 2, 3, 4])
    // At T = 5 tokens 1 and 4 hold 0.71 of the top-3 mass (token 1 alone 0.36): top-p 0.6 keeps them.
    expect(kept({topK: 3, topP: 0.6})).toEqual([1, 4])
  })
})

describe('text of generated tokens', () => {
  let model: Awaited<ReturnType<typeof tinyModelWithTokenizer>>
  beforeAll(async () => {
    model = await tinyModelWithTokenizer()
  })
  afterAll(() => model.cleanup())

  it('streams exactly the final text, holding back half a UTF-8 character until it completes', async () => {
    const tok = await loadTokenizer(model.folder)
    const promptIds = tok.encode('The café said')
    const tokens = tok.encode(' naïve 東京 déjà vu 🚀!')
    const stream = new TextStream(tok, promptIds)
    const pieces = tokens.map((t) => stream.push(t))
    pieces.push(stream.flush())
    expect(pieces.join('')).toBe(' naïve 東京 déjà vu 🚀!')
    expect(pieces.join('')).toBe(continuationText(tok, promptIds, tokens))
    expect(pieces.some((p) => p.includes('\uFFFD'))).toBe(false)
    // The emoji is four byte tokens: the first three add nothing yet.
    expect(pieces.filter((p) => p === '').length).toBeGreaterThanOrEqual(3)
  })
})
