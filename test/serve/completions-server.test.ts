import type {AddressInfo} from 'node:net'
import type {Server} from 'node:http'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {loglikelihood, encodePair} from '../../src/eval/loglikelihood.js'
import {generate} from '../../src/generate/generate.js'
import {readGenerationDefaults} from '../../src/generate/generation-config.js'
import {continuationText} from '../../src/generate/text-stream.js'
import {loadTeacher} from '../../src/models/load.js'
import type {TeacherModel} from '../../src/models/teacher.js'
import type {CompletionResponse} from '../../src/serve/completions.js'
import {createCompletionServer} from '../../src/serve/server.js'
import {loadTokenizer, type TextTokenizer} from '../../src/tokenizer/load.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'

const REQUESTS = [
  {context: 'Memorize the following dictionary:\nriver:7\nengine:93\nThe value of river is', continuation: ' 7'},
  {context: 'The value of the key', continuation: ' engine is 93.'},
  {context: 'Question: which word came first? Answer: ', continuation: 'river'},
  {context: 'x', continuation: ' naïve café'},
]

describe('hybridize serve: OpenAI completions over HTTP', () => {
  let fixture: Awaited<ReturnType<typeof tinyModelWithTokenizer>>
  let model: TeacherModel
  let tok: TextTokenizer
  let server: Server
  let base: string

  beforeAll(async () => {
    fixture = await tinyModelWithTokenizer()
    const backend = new CpuBackend()
    model = await loadTeacher(fixture.folder, backend)
    tok = await loadTokenizer(fixture.folder)
    const defaults = await readGenerationDefaults(fixture.folder)
    server = createCompletionServer({name: 'tiny', model, tokenizer: tok, eosTokenIds: defaults.eosTokenIds, maxPositions: 256}, {maxBodyBytes: 4096})
    server.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  })
  afterAll(async () => {
    server.close()
    await fixture.cleanup()
  })

  const post = async (body: unknown): Promise<{status: number; json: any}> => {
    const res = await fetch(`${base}/completions`, {method: 'POST', headers: {'content-type': 'application/json'}, body: typeof body === 'string' ? body : JSON.stringify(body)})
    return {status: res.status, json: await res.json()}
  }

  it('GET /v1/models lists the model', async () => {
    const res = await fetch(`${base}/models`)
    expect(res.status).toBe(200)
    expect(((await res.json()) as {data: {id: string}[]}).data.map((m) => m.id)).toEqual(['tiny'])
  })

  it("scores lm-evaluation-harness's loglikelihood requests (echo, logprobs 1, max_tokens 1, token ids) as eval does", async () => {
    const want = await loglikelihood(model, tok, REQUESTS, 3)
    const pairs = REQUESTS.map((r) => encodePair(tok, r.context, r.continuation))
    const {status, json} = await post({model: 'tiny', prompt: pairs.map((p) => [...p.context, ...p.continuation]), temperature: 0, max_tokens: 1, logprobs: 1, seed: 1234, echo: true})
    expect(status).toBe(200)
    const out = json as CompletionResponse
    expect(out.choices).toHaveLength(REQUESTS.length)
    // lm-evaluation-harness's LocalCompletionsAPI.parse_logprobs, step for step.
    out.choices.forEach((choice, i) => {
      const ctxlen = pairs[i].context.length
      const lps = choice.logprobs!.token_logprobs.slice(ctxlen, -1) as number[]
      const tops = choice.logprobs!.top_logprobs.slice(ctxlen, -1)
      const isGreedy = lps.every((lp, j) => lp === Math.max(...Object.values(tops[j]!)))
      expect(choice.logprobs!.token_logprobs[0]).toBeNull()
      expect(choice.logprobs!.top_logprobs[0]).toBeNull()
      expect(choice.logprobs!.tokens).toHaveLength(ctxlen + pairs[i].continuation.length + 1)
      expect(lps.reduce((a, b) => a + b, 0)).toBeCloseTo(want[i].logprob, 5)
      expect(isGreedy).toBe(want[i].isGreedy)
    })
    expect(out.usage.prompt_tokens).toBe(pairs.reduce((a, p) => a + p.context.length + p.continuation.length, 0))
    expect(out.usage.completion_tokens).toBe(REQUESTS.length)
  })

  it('echoes a text prompt with max_tokens 0: text, tokens and offsets line up', async () => {
    const prompt = REQUESTS[0].context + REQUESTS[0].continuation
    const {status, json} = await post({prompt, max_tokens: 0, echo: true, logprobs: 2})
    expect(status).toBe(200)
    const [choice] = (json as CompletionResponse).choices
    const lp = choice.logprobs!
    expect(choice.text).toBe(prompt)
    expect(lp.tokens.join('')).toBe(prompt)
    expect(lp.text_offset).toEqual(lp.tokens.map((_, i) => lp.tokens.slice(0, i).join('').length))
    // Two alternatives a position (one key when both read the same, e.g. two partial UTF-8 bytes), none below the token's own.
    lp.top_logprobs.slice(1).forEach((top, i) => {
      const values = Object.values(top!)
      expect(values.length).toBeGreaterThanOrEqual(1)
      expect(values.length).toBeLessThanOrEqual(2)
      expect(Math.max(...values)).toBeGreaterThanOrEqual(lp.token_logprobs[i + 1]!)
    })
    const ids = tok.encode(prompt)
    const [whole] = await loglikelihood(model, tok, [{context: tok.decode(ids.slice(0, 1)), continuation: tok.decode(ids.slice(1))}])
    expect((lp.token_logprobs.slice(1) as number[]).reduce((a, b) => a + b, 0)).toBeCloseTo(whole.logprob, 4)
  })

  it('generates as `generate` does: greedy text, n samples, stop strings', async () => {
    const prompt = 'The value of the key'
    const ids = tok.encode(prompt)
    const [greedy] = await generate(model, ids, {maxNewTokens: 6, n: 1, seed: 0, temperature: 0, topP: 1, eosTokenIds: []})
    const text = continuationText(tok, ids, greedy.tokens)
    const {json} = await post({prompt, max_tokens: 6, temperature: 0, n: 2})
    const out = json as CompletionResponse
    expect(out.choices.map((c) => c.text)).toEqual([text, text])
    expect(out.choices.map((c) => c.index)).toEqual([0, 1])
    expect(out.choices[0].logprobs).toBeNull()
    const stop = text.slice(2, 4)
    const stopped = (await post({prompt, max_tokens: 6, temperature: 0, stop: [stop]})).json as CompletionResponse
    expect(stopped.choices[0].text).toBe(text.slice(0, text.indexOf(stop)))
    expect(stopped.choices[0].finish_reason).toBe('stop')
  })

  it('answers malformed requests with 400 and a clear message, and keeps serving', async () => {
    const bad = await post('{"prompt": "x", ')
    expect(bad.status).toBe(400)
    expect(bad.json.error.message).toMatch(/not valid JSON/)
    for (const [body, param] of [[{prompt: 'x', temperature: 'hot'}, 'temperature'], [{max_tokens: 2}, 'prompt'], [{prompt: [[1, 2], [3, 99999]]}, 'prompt'], [{prompt: 'x', logprobs: 9}, 'logprobs'], [{prompt: 'x', max_tokens: 1000}, 'max_tokens'], [{prompt: 'x', stream: true}, 'stream']] as const) {
      const r = await post(body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.json.error.param).toBe(param)
      expect(r.json.error.type).toBe('invalid_request_error')
    }
    expect((await fetch(`${base}/nothing`)).status).toBe(404)
    expect((await fetch(`${base}/completions`)).status).toBe(405)
    const ok = await post({prompt: 'x', max_tokens: 1})
    expect(ok.status).toBe(200)
    expect(ok.json.choices).toHaveLength(1)
  })

  it('refuses a body over the limit with 413, then serves the next request', async () => {
    const big = await post({prompt: 'y'.repeat(5000), max_tokens: 1})
    expect(big.status).toBe(413)
    expect(big.json.error.message).toMatch(/larger than 4096 bytes/)
    expect((await post({prompt: 'x', max_tokens: 1})).status).toBe(200)
  })

  it('computes concurrent requests one at a time, each answered as if alone', async () => {
    const bodies = [1, 2, 3].map((seed) => ({prompt: 'Memorize', max_tokens: 5, temperature: 1, seed}))
    const together = await Promise.all(bodies.map(post))
    for (const [i, body] of bodies.entries()) {
      expect(together[i].status).toBe(200)
      expect(together[i].json.choices[0].text).toBe((await post(body)).json.choices[0].text)
    }
  })
})
