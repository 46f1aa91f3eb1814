import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {empty, fromArray, scopeAsync} from '../../src/engine/tensor.js'
import {generate, type GenerateOptions} from '../../src/generate/generate.js'
import {sampleRows, type SampleRowsParams} from '../../src/kernels/sample-rows.js'
import type {DecodingModel} from '../../src/models/decoding-model.js'
import {loadModel} from '../../src/models/load-model.js'
import {rewrite} from '../../src/rewrite/rewrite.js'
import {Random} from '../../src/util/random.js'
import {webgpuBackend} from '../helpers/backends.js'
import {fixtureReference} from '../helpers/paths.js'
import {writeHeadsJson} from '../rewrite/helpers.js'

/**
 * Tokens drawn on the device (kernels/sample-rows.ts) are the tokens the host sampler drew from
 * logits read back, seed for seed, for the three kinds of decoding model; and a decode step reads
 * back n token ids, never n rows of logits.
 */

/** The host sampler as it was before sampling moved to the device: softmax(row / T) walked in index order. */
function hostDraw(row: Float32Array, temperature: number, rng: Random): number {
  if (temperature <= 0) return row.indexOf(Math.max(...row))
  const max = Math.max(...row)
  const probs = Array.from(row, (x) => Math.exp((x - max) / temperature))
  let u = rng.float() * probs.reduce((a, b) => a + b, 0)
  for (let i = 0; i < probs.length; i++) if ((u -= probs[i]) < 0) return i
  return probs.length - 1
}

/** generate() without EOS, written out with full logits read back each step and hostDraw. */
async function hostGenerate(model: DecodingModel, prompt: number[], n: number, steps: number, temperature: number, seed: number): Promise<number[][]> {
  const V = model.vocabSize
  const rngs = Array.from({length: n}, (_, i) => new Random(seed, i))
  const cache = model.newCache(n, prompt.length + steps)
  const out: number[][] = Array.from({length: n}, () => [])
  let ids = Int32Array.from({length: n * prompt.length}, (_, i) => prompt[i % prompt.length])
  for (let s = 0; s < steps; s++) {
    const t = ids.length / n
    const logits = await scopeAsync(async () => model.forwardCached(fromArray(model.backend, ids, [n, t]), cache, {lastOnly: true}).logits.toFloat32())
    ids = Int32Array.from({length: n}, (_, i) => hostDraw(logits.subarray(i * V, (i + 1) * V), temperature, rngs[i]))
    ids.forEach((token, i) => out[i].push(token))
  }
  cache.dispose()
  return out
}

async function sampleOn(backend: Backend, p: SampleRowsParams, logits: Float32Array, draws: Int32Array): Promise<number[]> {
  const ids = await scopeAsync(async () => {
    const out = empty(backend, [p.rows], 'i32')
    backend.run(sampleRows, p, [fromArray(backend, logits, [p.rows, p.vocab]).storage, fromArray(backend, draws, [p.rows]).storage], [out.storage])
    return out.toArray()
  })
  return Array.from(ids)
}

const prompt = [5, 17, 99, 3, 42, 7]
const options = (o: Partial<GenerateOptions>): GenerateOptions => ({maxNewTokens: 10, n: 3, seed: 11, temperature: 0, topP: 1, eosTokenIds: [], ...o})
const backends: [string, () => Promise<Backend | undefined>][] = [['CPU', async () => new CpuBackend()], ['WebGPU', webgpuBackend]]

describe('sampling on the device', () => {
  let root: string
  const folders: Record<string, string> = {teacher: join(fixtureReference, 'llama-tiny'), 'pure SSM': join(fixtureReference, 'mamba2-tiny')}
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'hybridize-device-sampling-'))
    const teacher = folders.teacher
    const cfg = JSON.parse(await readFile(join(teacher, 'config.json'), 'utf8'))
    const heads = await writeHeadsJson(root, teacher, cfg.num_hidden_layers, cfg.num_attention_heads, [[0, 1], [1, 2]])
    folders.hybrid = join(root, 'hybrid')
    await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: 'discrete-mamba2', dState: 8}, out: folders.hybrid, command: 'test'})
  })
  afterAll(() => rm(root, {recursive: true, force: true}))

  for (const kind of ['teacher', 'hybrid', 'pure SSM']) {
    for (const [label, open] of backends) {
      it(`${kind} on ${label}: the same tokens as the host sampler, greedy and at temperature 0.8, reading back ids only`, async () => {
        const backend = await open()
        if (!backend) return
        const model = await loadModel(folders[kind], backend)
        const reads: number[] = []
        const read = backend.read.bind(backend)
        backend.read = (storage) => (reads.push(storage.numel), read(storage))
        try {
          for (const temperature of [0, 0.8]) {
            reads.length = 0
            const got = await generate(model, prompt, options({temperature}))
            expect(reads.every((numel) => numel === 3)).toBe(true)
            expect(reads).toHaveLength(10)
            const want = await hostGenerate(model, prompt, 3, 10, temperature, 11)
            expect(got.map((s) => s.tokens)).toEqual(want)
            if (temperature > 0) expect(new Set(want.map((t) => t.join())).size).toBeGreaterThan(1)
          }
        } finally {
          backend.read = read
          for (const w of model.weights.values()) w.dispose()
        }
      })
    }
  }

  it('without a beforeStep hook a step is encoded and submitted (its ids\' read started) before the last one is read; with one, not; the samples are the same, early ends included', async () => {
    const backend = new CpuBackend()
    const model = await loadModel(folders.teacher, backend)
    const forwardCached = model.forwardCached.bind(model)
    const read = backend.read.bind(backend)
    let forwards = 0
    let reads = 0
    model.forwardCached = (...a) => (forwards++, forwardCached(...a))
    backend.read = (s) => (reads++, read(s))
    const run = async (hooked: boolean, eosTokenIds: number[] = []) => {
      forwards = reads = 0
      const seen: number[] = []
      const seenReads: number[] = []
      const onToken = (i: number): void => void (i === 0 && (seen.push(forwards), seenReads.push(reads)))
      const out = await generate(model, prompt, options({temperature: 0.8, eosTokenIds, onToken, beforeStep: hooked ? async () => {} : undefined}))
      return {out, seen, seenReads}
    }
    const free = await run(false)
    expect(free.seen).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 10])
    expect(free.seenReads).toEqual(free.seen)
    const hooked = await run(true)
    expect(hooked.seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(hooked.seenReads).toEqual(hooked.seen)
    expect(hooked.out).toEqual(free.out)
    // Sample 1 ends at its third token: the others run on, unchanged.
    const eos = [free.out[1].tokens[2]]
    const [a, b] = [await run(false, eos), await run(true, eos)]
    expect(a.out).toEqual(b.out)
    expect(a.out[1]).toEqual({tokens: free.out[1].tokens.slice(0, 2), finishReason: 'eos'})
    for (const w of model.weights.values()) w.dispose()
  })

  it('the kernel on WebGPU matches its CPU twin: exact argmax with ties, draws from random rows', async () => {
    const gpu = await webgpuBackend()
    if (!gpu) return
    const rng = new Random(3)
    for (const vocab of [1, 7, 300, 1000]) {
      const rows = 9
      const logits = Float32Array.from({length: rows * vocab}, () => Math.round((rng.float() * 6 - 3) * 4) / 4)
      const draws = Int32Array.from({length: rows}, () => rng.uint32() | 0)
      for (const temperature of [0, 0.7, 2]) {
        const p = {rows, vocab, temperature}
        expect(await sampleOn(gpu, p, logits, draws)).toEqual(await sampleOn(new CpuBackend(), p, logits, draws))
      }
    }
  })
})
