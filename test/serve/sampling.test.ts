import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {generate} from '../../src/generate/generate.js'
import {continuationText} from '../../src/generate/text-stream.js'
import type {CompletionResponse} from '../../src/serve/completions.js'
import {sequenceLogprobs} from '../../src/serve/sequence-logprobs.js'
import {postJson, serveFixture, type ServeFixture} from './serve-fixture.js'

const PROMPT = 'The value of the key'

describe('hybridize serve: n samples with seed, stop, and logprobs of generated tokens (OpenAI completions)', () => {
  let fx: ServeFixture
  let url: string
  beforeAll(async () => {
    fx = await serveFixture()
    url = `${(await fx.start({maxBodyBytes: 1 << 20})).base}/v1/completions`
  })
  afterAll(() => fx.cleanup())

  const complete = async (body: Record<string, unknown>) => {
    const r = await postJson(url, body)
    expect(r.status, JSON.stringify(r.json)).toBe(200)
    return r.json as CompletionResponse
  }

  it('draws n samples reproducibly from seed (sample j of prompt p from Random(seed + p, j)), as generate does', async () => {
    const body = {prompt: [PROMPT, 'Memorize'], max_tokens: 8, temperature: 1, top_p: 0.95, n: 4, seed: 7}
    const a = await complete(body)
    expect(a.choices.map((c) => c.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect((await complete(body)).choices.map((c) => c.text)).toEqual(a.choices.map((c) => c.text))
    expect(new Set(a.choices.slice(0, 4).map((c) => c.text)).size).toBeGreaterThan(1)
    expect((await complete({...body, seed: 8})).choices.map((c) => c.text)).not.toEqual(a.choices.map((c) => c.text))
    for (const [p, prompt] of [PROMPT, 'Memorize'].entries()) {
      const ids = fx.tok.encode(prompt)
      const samples = await generate(fx.model, ids, {maxNewTokens: 8, n: 4, seed: 7 + p, temperature: 1, topP: 0.95, eosTokenIds: fx.eosTokenIds})
      expect(a.choices.slice(4 * p, 4 * p + 4).map((c) => c.text)).toEqual(samples.map((s) => continuationText(fx.tok, ids, s.tokens)))
    }
    expect(a.usage.completion_tokens).toBeLessThanOrEqual(8 * 8)
  })

  it("gives each sample's generated tokens with their log-probabilities, top alternatives and text offsets", async () => {
    const out = await complete({prompt: PROMPT, max_tokens: 6, temperature: 1, n: 3, seed: 3, logprobs: 2})
    const ids = fx.tok.encode(PROMPT)
    const samples = await generate(fx.model, ids, {maxNewTokens: 6, n: 3, seed: 3, temperature: 1, topP: 1, eosTokenIds: fx.eosTokenIds})
    for (const [j, choice] of out.choices.entries()) {
      const lp = choice.logprobs!
      const generated = samples[j].tokens
      expect(lp.tokens).toHaveLength(generated.length)
      expect(lp.tokens.join('')).toBe(choice.text)
      // Offsets continue from the prompt text, as OpenAI's do without echo.
      expect(lp.text_offset).toEqual(lp.tokens.map((_, i) => PROMPT.length + lp.tokens.slice(0, i).join('').length))
      const want = (await sequenceLogprobs(fx.model, [...ids, ...generated], 2)).slice(ids.length)
      lp.token_logprobs.forEach((v, i) => expect(v).toBeCloseTo(want[i].logprob!, 5))
      lp.top_logprobs.forEach((top, i) => {
        expect(Object.keys(top!).length).toBeLessThanOrEqual(2)
        expect(Math.max(...Object.values(top!))).toBeCloseTo(want[i].top![0].logprob, 5)
      })
    }
  })

  it('stops each sample at its first stop string, and its logprobs end with the text', async () => {
    const free = await complete({prompt: PROMPT, max_tokens: 12, temperature: 1, n: 4, seed: 11})
    // A stop string that sample 0 contains past its first character.
    const stop = free.choices[0].text.slice(3, 5)
    const out = await complete({prompt: PROMPT, max_tokens: 12, temperature: 1, n: 4, seed: 11, stop: [stop, '\u0000never'], logprobs: 0})
    for (const [j, choice] of out.choices.entries()) {
      const whole = free.choices[j].text
      const cut = whole.indexOf(stop)
      expect(choice.text).toBe(cut < 0 ? whole : whole.slice(0, cut))
      if (cut >= 0) expect(choice.finish_reason).toBe('stop')
      const lp = choice.logprobs!
      expect(lp.tokens.join('').startsWith(choice.text)).toBe(true)
      expect(lp.text_offset.every((o) => o < PROMPT.length + Math.max(1, choice.text.length))).toBe(true)
      expect(lp.top_logprobs.every((t) => t !== null && Object.keys(t).length === 0)).toBe(true)
    }
    expect(out.choices[0].finish_reason).toBe('stop')
  })
})
