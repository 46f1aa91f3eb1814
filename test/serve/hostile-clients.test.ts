import {connect} from 'node:net'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'
import type {TeacherModel} from '../../src/models/teacher.js'
import {postJson, serveFixture, type ServeFixture} from './serve-fixture.js'

/** The model, counting its decode steps. */
function counted(model: TeacherModel): {model: TeacherModel; steps: () => number} {
  let steps = 0
  const proxy = new Proxy(model, {
    get(target, key) {
      if (key === 'forwardCached') return (...args: Parameters<TeacherModel['forwardCached']>) => (steps++, target.forwardCached(...args))
      const v = Reflect.get(target, key) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
  return {model: proxy, steps: () => steps}
}

const until = async (cond: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('hybridize serve: one client cannot block the others', () => {
  let fx: ServeFixture
  beforeAll(async () => {
    fx = await serveFixture()
  })
  afterAll(() => fx.cleanup())

  it('refuses too many prompts (400) and too many tokens (413) in the OpenAI error shape, before any work', async () => {
    const {base} = await fx.start({maxBodyBytes: 1 << 20, limits: {maxPrompts: 64, maxRequestTokens: 500}})
    const many = await postJson(`${base}/v1/completions`, {prompt: Array(5000).fill('x'), max_tokens: 1})
    expect(many.status).toBe(400)
    expect(many.json.error).toMatchObject({type: 'invalid_request_error', param: 'prompt', code: null})
    expect(many.json.error.message).toMatch(/5000 prompts.*at most 64.*--max-prompts/)
    const big = await postJson(`${base}/v1/completions`, {prompt: Array(10).fill('The value'), max_tokens: 60})
    expect(big.status).toBe(413)
    expect(big.json.error.type).toBe('request_too_large')
    expect(big.json.error.message).toMatch(/more than 500 tokens.*--max-request-tokens/)
  })

  it('refuses a prompt far longer than the context without tokenizing it', async () => {
    const {base} = await fx.start({maxBodyBytes: 4 << 20})
    const encode = vi.spyOn(fx.tok, 'encode')
    const huge = await postJson(`${base}/v1/completions`, {prompt: 'river engine '.repeat(80_000), max_tokens: 1})
    expect(huge.status).toBe(400)
    expect(huge.json.error.message).toMatch(/maximum context length is 256 tokens.*1040000 characters.*max_length=256/)
    expect(encode).not.toHaveBeenCalled()
    encode.mockRestore()
  })

  it.each([
    ['40 prompts', {prompt: Array(40).fill('The value of'), max_tokens: 8, temperature: 0}],
    ['8 samples of 200 tokens', {prompt: 'The value of', max_tokens: 200, n: 8, temperature: 1, seed: 0}],
  ])('takes turns forward by forward: a small request is answered while one of %s still runs', async (_, heavy) => {
    const {model, steps} = counted(fx.model)
    const {base} = await fx.start({maxBodyBytes: 1 << 20}, 256, model)
    const finished: string[] = []
    const big = postJson(`${base}/v1/completions`, heavy).then((r) => (finished.push('big'), r))
    await until(() => steps() > 0)
    const small = await postJson(`${base}/v1/completions`, {prompt: 'Memorize', max_tokens: 8, temperature: 0})
    finished.push('small')
    expect(small.status).toBe(200)
    expect((await big).status).toBe(200)
    expect(finished).toEqual(['small', 'big'])
  })

  it('stops working for a client that disconnects, and keeps serving', async () => {
    const {model, steps} = counted(fx.model)
    const lines: string[] = []
    const {base} = await fx.start({maxBodyBytes: 1 << 20, log: (l) => lines.push(l)}, 256, model)
    const abort = new AbortController()
    const abandoned = postJson(`${base}/v1/completions`, {prompt: Array(200).fill('The value of'), max_tokens: 32, temperature: 0}, abort.signal).catch((e: Error) => e.name)
    await until(() => steps() > 0)
    abort.abort()
    expect(await abandoned).toBe('AbortError')
    await until(() => lines.some((l) => /connection closed before the answer/.test(l)))
    const after = steps()
    await new Promise((r) => setTimeout(r, 300))
    // At most the forward in flight when the disconnect was seen; the 200 × 32 steps asked for never run.
    expect(steps() - after).toBeLessThanOrEqual(1)
    expect(after).toBeLessThan(200 * 8)
    expect((await postJson(`${base}/v1/completions`, {prompt: 'x', max_tokens: 2})).status).toBe(200)
  })

  it('closes connections that send their headers or body too slowly, while others are served', async () => {
    const {port, base} = await fx.start({maxBodyBytes: 1 << 20, timeouts: {headers: 300, request: 600, idle: 300, keepAlive: 300}})
    const slow = (data: string) =>
      new Promise<number>((resolve) => {
        const started = Date.now()
        const socket = connect(port, '127.0.0.1', () => socket.write(data))
        socket.on('error', () => undefined)
        socket.on('close', () => resolve(Date.now() - started))
      })
    const headers = slow('POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ')
    const body = slow('POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt": ')
    expect((await postJson(`${base}/v1/completions`, {prompt: 'x', max_tokens: 2})).status).toBe(200)
    const closed = await Promise.all([headers, body])
    for (const ms of closed) expect(ms).toBeLessThan(3000)
  })
})
