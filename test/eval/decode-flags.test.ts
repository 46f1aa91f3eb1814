import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {matmulPrecision, type Precision} from '../../src/engine/precision.js'
import {runTask} from '../../src/eval/run-tasks.js'
import type {GenerationSettings} from '../../src/eval/tasks/generation.js'
import type {EvalContext} from '../../src/eval/tasks/types.js'
import type {KvCacheDtype} from '../../src/models/decode-cache.js'
import type {DecodingModel} from '../../src/models/decoding-model.js'
import {loadModel} from '../../src/models/load-model.js'
import {loadTokenizer} from '../../src/tokenizer/load.js'
import {runCli} from '../helpers/cli.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'

/**
 * eval's --precision and --kv-cache-dtype: every forward a task runs (decoding, time budget,
 * throughput, log-likelihood scoring) at the run's precision, every cache at its dtype; greedy
 * answers as f32's on the tiny llama (head dim 16, which an f16 cache takes); the results' model_args.
 */
let model: Awaited<ReturnType<typeof tinyModelWithTokenizer>>
let root: string
let problems: string
beforeAll(async () => {
  model = await tinyModelWithTokenizer()
  root = await mkdtemp(join(tmpdir(), 'hybridize-decode-flags-'))
  problems = join(root, 'p.jsonl')
  const prompts = ['Question: Mia has 3 apples.', 'The value of the key', '12 + 30 =']
  await writeFile(problems, prompts.map((p, i) => JSON.stringify({prompt: p, answer: `#### ${i}`})).join('\n'))
})
afterAll(async () => {
  await model.cleanup()
  await rm(root, {recursive: true, force: true})
})

/** One model call: the precision in force when it ran, or the dtype a cache was asked for. */
type Call = {kind: 'forward' | 'forwardCached'; precision: Precision} | {kind: 'newCache'; kvDtype: KvCacheDtype}

/** Records every forward and cache of `lm`, as the tasks call them. */
function recordCalls(lm: DecodingModel): Call[] {
  const calls: Call[] = []
  const {forward, forwardCached, newCache} = lm
  lm.forward = (ids, opts) => (calls.push({kind: 'forward', precision: matmulPrecision()}), forward.call(lm, ids, opts))
  lm.forwardCached = (ids, cache, opts) => (calls.push({kind: 'forwardCached', precision: matmulPrecision()}), forwardCached.call(lm, ids, cache, opts))
  lm.newCache = (batch, capacity, opts) => (calls.push({kind: 'newCache', kvDtype: opts?.kvDtype ?? 'f32'}), newCache.call(lm, batch, capacity, opts))
  return calls
}

const greedy: GenerationSettings = {numSamples: 1, temperature: 0, topP: 1, topK: 0, maxGenToks: 12}

async function run(spec: string, opts: Partial<EvalContext> & {seqLen?: number} = {}) {
  const lm = await loadModel(model.folder, new CpuBackend())
  const calls = recordCalls(lm)
  const ctx: EvalContext = {lm, tokenizer: await loadTokenizer(model.folder), batchSize: 2, seed: 5, logSamples: true, progress: () => {}, generation: greedy, eosTokenIds: [], ...opts}
  try {
    return {result: await runTask(spec, ctx, opts.seqLen ?? 32), calls}
  } finally {
    for (const w of lm.weights.values()) w.dispose()
  }
}

/** Every call ran at `precision` and every cache held `kvDtype`; at least one of each kind that `kinds` names. */
function expectAll(calls: Call[], precision: Precision, kvDtype: KvCacheDtype | undefined, kinds: Call['kind'][]) {
  for (const kind of kinds) expect(calls.some((c) => c.kind === kind), kind).toBe(true)
  for (const c of calls) expect(c).toEqual(c.kind === 'newCache' ? {kind: c.kind, kvDtype} : {kind: c.kind, precision})
}

describe('eval --precision mixed --kv-cache-dtype f16', () => {
  it('gen: greedy answers are f32\'s; every decode ran mixed on an f16 cache, in batches of samples too', async () => {
    const f32 = await run(`gen:${problems}`)
    const half = await run(`gen:${problems}`, {precision: 'mixed', kvCacheDtype: 'f16'})
    expectAll(f32.calls, 'f32', 'f32', ['newCache', 'forwardCached'])
    expectAll(half.calls, 'mixed', 'f16', ['newCache', 'forwardCached'])
    const texts = (r: typeof f32) => r.result.samples!.filter((s) => s.filter === 'score-first').map((s) => s.resps)
    expect(texts(half)).toEqual(texts(f32))
    expect(texts(f32).flat(2).join('').length).toBeGreaterThan(0)
    const sampled = await run(`gen:${problems}`, {precision: 'mixed', kvCacheDtype: 'f16', generation: {...greedy, numSamples: 3, temperature: 1}})
    expectAll(sampled.calls, 'mixed', 'f16', ['newCache', 'forwardCached'])
  })

  it('the time-budget loop and its warm-up decode at the run\'s settings', async () => {
    let reads = 0
    const {calls} = await run('arith-cot', {precision: 'mixed', kvCacheDtype: 'f16', limit: 2, logSamples: false, clock: () => reads++ / 1000, generation: {...greedy, temperature: 1, timeBudgets: [0.02]}})
    expectAll(calls, 'mixed', 'f16', ['newCache', 'forwardCached'])
    expect(calls.filter((c) => c.kind === 'newCache').length).toBeGreaterThan(1)
  })

  it('throughput decodes at the run\'s settings, and an f16 cache counts half the KV bytes', async () => {
    const f32 = await run('throughput', {seqLen: 8, batchSize: 1})
    const half = await run('throughput', {seqLen: 8, batchSize: 1, precision: 'mixed', kvCacheDtype: 'f16'})
    expectAll(half.calls, 'mixed', 'f16', ['newCache', 'forwardCached'])
    expect(half.result.metrics['kv_bytes_per_seq,context=8']).toBe(f32.result.metrics['kv_bytes_per_seq,context=8'] / 2)
  })

  it('log-likelihood tasks (ppl, mc, kv-retrieval) score with mixed forwards; perplexity moves, within 1e-3 of f32\'s', async () => {
    const text = join(root, 't.txt')
    await writeFile(text, 'The value of the key is seven. Mia has three apples and finds five more.')
    const mc = join(root, 'mc.jsonl')
    await writeFile(mc, [{context: 'Mia has', choices: ['three apples', 'a key'], gold: 0}, {context: '12 + 30 =', choices: ['42', '7'], gold: 0}].map((d) => JSON.stringify(d)).join('\n'))
    // Token 1 is the tiny llama's BOS, which perplexity predicts the first token from.
    const score = (spec: string, precision?: Precision) => run(spec, {limit: 2, prefixTokenId: 1, precision})
    for (const spec of [`mc:${mc}`, 'kv-retrieval:pairs=10']) expectAll((await score(spec, 'mixed')).calls, 'mixed', undefined, ['forward'])
    const [f32, mixed] = [await score(`ppl:${text}`), await score(`ppl:${text}`, 'mixed')]
    expectAll(f32.calls, 'f32', undefined, ['forward'])
    expectAll(mixed.calls, 'mixed', undefined, ['forward'])
    // Measured: 6.6e-6 relative.
    const [a, b] = [f32.result.metrics['word_perplexity,none'], mixed.result.metrics['word_perplexity,none']]
    expect(b).not.toBe(a)
    expect(Math.abs(b - a) / a).toBeLessThan(1e-3)
  })
})

describe('hybridize eval with the flags', () => {
  it('records them in the results\' model_args, and the greedy answers logged are f32\'s', async () => {
    const out = (name: string) => join(root, name)
    const common = ['eval', model.folder, '--tasks', `gen:${problems}`, '--device', 'cpu', '--max-gen-toks', '8', '--log-samples', '-q']
    const f32 = runCli([...common, '--output-path', out('f32')])
    const half = runCli([...common, '--output-path', out('half'), '--precision', 'mixed', '--kv-cache-dtype', 'f16'])
    expect([f32.status, half.status, f32.stderr + half.stderr]).toEqual([0, 0, ''])
    const read = async (dir: string, prefix: string) => {
      const files = await readdir(dir, {recursive: true})
      return readFile(join(dir, files.find((f) => f.split('/').at(-1)!.startsWith(prefix))!), 'utf8')
    }
    const args = async (dir: string) => (JSON.parse(await read(dir, 'results_')) as {config: {model_args: string}}).config.model_args
    expect(await args(out('f32'))).toBe(`pretrained=${model.folder},precision=f32,kv_cache_dtype=f32`)
    expect(await args(out('half'))).toBe(`pretrained=${model.folder},precision=mixed,kv_cache_dtype=f16`)
    const resps = async (dir: string) => (await read(dir, 'samples_')).trim().split('\n').map((l) => (JSON.parse(l) as {resps: unknown}).resps)
    expect(await resps(out('half'))).toEqual(await resps(out('f32')))
  })

  it('refuses a bad value with oclif\'s one line, and an f16 cache without a task that decodes, exit 2', () => {
    const bad = runCli(['eval', 'fixtures/none', '--tasks', 'arith-cot', '--precision', 'bf16'])
    expect(bad.status).toBe(2)
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/Expected --precision=bf16 to be one of: f32, mixed/)])
    const cache = runCli(['eval', 'fixtures/none', '--tasks', 'arith-cot', '--kv-cache-dtype', 'f8'])
    expect(cache.status).toBe(2)
    expect(cache.stderr).toMatch(/Expected --kv-cache-dtype=f8 to be one of: f32, f16/)
    const scoring = runCli(['eval', 'fixtures/none', '--tasks', 'kv-retrieval', '--kv-cache-dtype', 'f16'])
    expect(scoring.status).toBe(2)
    expect(scoring.stderr.trim().split('\n')).toEqual([expect.stringMatching(/--kv-cache-dtype applies to tasks that decode \(gen:<file.jsonl>, arith-cot, throughput\), and --tasks has none/)])
  })
})
