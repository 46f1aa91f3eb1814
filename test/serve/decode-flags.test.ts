import type {Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {matmulPrecision, type Precision} from '../../src/engine/precision.js'
import {readGenerationDefaults} from '../../src/generate/generation-config.js'
import type {KvCacheDtype} from '../../src/models/decode-cache.js'
import {loadTeacher} from '../../src/models/load.js'
import {createCompletionServer} from '../../src/serve/server.js'
import {loadTokenizer} from '../../src/tokenizer/load.js'
import {runCli} from '../helpers/cli.js'
import {startServe} from '../helpers/serve-process.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'
import {postJson} from './serve-fixture.js'

/** serve's --precision and --kv-cache-dtype: every request's decode and its logprobs forward at them. */
let tiny: Awaited<ReturnType<typeof tinyModelWithTokenizer>>
const servers: Server[] = []
beforeAll(async () => {
  tiny = await tinyModelWithTokenizer()
})
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections()
    s.close()
  }
  await tiny.cleanup()
})

/** A server over its own copy of the tiny llama, recording the precision of each forward and the dtype of each cache. */
async function serve(settings: {precision?: Precision; kvCacheDtype?: KvCacheDtype}) {
  const model = await loadTeacher(tiny.folder, new CpuBackend())
  const seen = {precisions: new Set<string>(), kvDtypes: new Set<string>()}
  const {forward, forwardCached, newCache} = model
  model.forward = (ids, opts) => (seen.precisions.add(`forward ${matmulPrecision()}`), forward.call(model, ids, opts))
  model.forwardCached = (ids, cache, opts) => (seen.precisions.add(`forwardCached ${matmulPrecision()}`), forwardCached.call(model, ids, cache, opts))
  model.newCache = (batch, capacity, opts) => (seen.kvDtypes.add(opts?.kvDtype ?? 'f32'), newCache.call(model, batch, capacity, opts))
  const {eosTokenIds} = await readGenerationDefaults(tiny.folder)
  const server = createCompletionServer({name: 'tiny', model, tokenizer: await loadTokenizer(tiny.folder), eosTokenIds, maxPositions: 256, ...settings}, {maxBodyBytes: 1 << 20})
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/completions`, seen}
}

describe('serve --precision mixed --kv-cache-dtype f16', () => {
  it('decodes every request mixed on an f16 cache, its logprobs forward mixed; greedy text as f32\'s', async () => {
    const [f32, half] = [await serve({}), await serve({precision: 'mixed', kvCacheDtype: 'f16'})]
    const body = {model: 'tiny', prompt: ['The value of the key', 'Mia has'], max_tokens: 8, temperature: 0, logprobs: 1}
    const [a, b] = [await postJson(f32.url, body), await postJson(half.url, body)]
    expect([a.status, b.status], JSON.stringify(a.json)).toEqual([200, 200])
    const texts = (r: typeof a) => (r.json.choices as {text: string}[]).map((c) => c.text)
    expect(texts(b)).toEqual(texts(a))
    expect(texts(a).join('').length).toBeGreaterThan(0)
    expect([...f32.seen.precisions].sort()).toEqual(['forward f32', 'forwardCached f32'])
    expect([...half.seen.precisions].sort()).toEqual(['forward mixed', 'forwardCached mixed'])
    expect([...half.seen.kvDtypes]).toEqual(['f16'])
    // Measured on the tiny llama: the completions' logprobs move by up to 1.6e-4 (f16 rounding), so they are not f32's.
    const lps = (r: typeof a) => (r.json.choices as {logprobs: {token_logprobs: number[]}}[]).flatMap((c) => c.logprobs.token_logprobs)
    const diffs = lps(b).map((x, i) => Math.abs(x - lps(a)[i]))
    expect(Math.max(...diffs)).toBeGreaterThan(0)
    expect(Math.max(...diffs)).toBeLessThan(1e-2)
  })
})

describe('hybridize serve with the flags', () => {
  it('says at start which are in force, and answers', async () => {
    const {child, url, exited, stderr} = await startServe([tiny.folder, '--port', '0', '--device', 'cpu', '--precision', 'mixed', '--kv-cache-dtype', 'f16'])
    const res = await postJson(`${url}/completions`, {prompt: 'The value', max_tokens: 3, temperature: 0})
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(res.status).toBe(200)
    expect(stderr()).toMatch(/decoding: linear layers mixed, KV cache f16/)
  })

  it('refuses a bad value with oclif\'s one line and exit 2', () => {
    const r = runCli(['serve', tiny.folder, '--port', '0', '--kv-cache-dtype', 'bf16'])
    expect(r.status).toBe(2)
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/Expected --kv-cache-dtype=bf16 to be one of: f32, f16/)])
  })
})
