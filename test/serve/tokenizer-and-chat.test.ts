import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {postJson, serveFixture, type ServeFixture} from './serve-fixture.js'

/** A ChatML-style template, as an instruct model's tokenizer_config.json carries it. */
const TEMPLATE = "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tools here') }}{% endif %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
const MESSAGES = [{role: 'system', content: 'Answer briefly.'}, {role: 'user', content: [{type: 'text', text: 'The value of'}, {type: 'text', text: 'river?'}]}]

describe('hybridize serve: tokenizer endpoints (vLLM shape, for lm-eval remote tokenizer) and chat completions', () => {
  let fx: ServeFixture
  let plain: string
  let chat: string
  let eos: string
  beforeAll(async () => {
    fx = await serveFixture()
    plain = (await fx.start({maxBodyBytes: 1 << 20})).base
    const configPath = join(fx.folder, 'tokenizer_config.json')
    const config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>
    eos = config.eos_token as string
    await writeFile(configPath, JSON.stringify({...config, chat_template: TEMPLATE}))
    chat = (await fx.start({maxBodyBytes: 1 << 20})).base
  })
  afterAll(() => fx.cleanup())

  it("answers lm-eval's RemoteTokenizer: tokenizer_info with eos_token, tokenize without special tokens, detokenize", async () => {
    const info = (await (await fetch(`${plain}/tokenizer_info`)).json()) as Record<string, unknown>
    expect(info).toMatchObject({tokenizer_class: 'PreTrainedTokenizerFast', eos_token: eos})
    expect(info).not.toHaveProperty('chat_template')
    expect(info).not.toHaveProperty('added_tokens_decoder')
    const text = 'Memorize the following dictionary:\nriver:7 naïve café'
    const tokenized = await postJson(`${plain}/tokenize`, {prompt: text, add_special_tokens: false})
    expect(tokenized.status).toBe(200)
    expect(tokenized.json).toEqual({count: tokenized.json.tokens.length, max_model_len: 256, tokens: fx.tok.encode(text, {addSpecialTokens: false}), token_strs: null})
    // RemoteTokenizer.eos_token_id is encode(eos_token)[0]: the special token must come back as its one id.
    expect((await postJson(`${plain}/tokenize`, {prompt: eos, add_special_tokens: false})).json.tokens).toEqual([fx.tok.tokenToId(eos)])
    const strs = await postJson(`${plain}/tokenize`, {prompt: 'river', return_token_strs: true})
    expect(strs.json.token_strs).toEqual(strs.json.tokens.map((id: number) => fx.tok.idToToken!(id)))
    const back = await postJson(`${plain}/detokenize`, {tokens: tokenized.json.tokens})
    expect(back).toEqual({status: 200, json: {prompt: text}})
    const bad = await postJson(`${plain}/detokenize`, {tokens: [1, 99999]})
    expect(bad.status).toBe(400)
    expect(bad.json.error).toMatchObject({param: 'tokens', type: 'invalid_request_error'})
    expect((await postJson(`${plain}/tokenize`, {prompt: 5})).status).toBe(400)
  })

  it('refuses chat on a model without a chat template with a clear 400', async () => {
    const r = await postJson(`${plain}/v1/chat/completions`, {messages: MESSAGES, max_tokens: 2})
    expect(r.status).toBe(400)
    expect(r.json.error.message).toMatch(/has no chat template.*\/v1\/completions/)
    expect((await postJson(`${plain}/tokenize`, {messages: MESSAGES})).status).toBe(400)
  })

  it("renders the tokenizer's chat template and completes as /v1/completions does on the rendered text", async () => {
    const rendered = `<|system|>Answer briefly.${eos}<|user|>The value of\nriver?${eos}<|assistant|>`
    expect(((await (await fetch(`${chat}/tokenizer_info`)).json()) as {chat_template: string}).chat_template).toBe(TEMPLATE)
    expect((await postJson(`${chat}/tokenize`, {messages: MESSAGES})).json.tokens).toEqual(fx.tok.encode(rendered, {addSpecialTokens: false}))
    const r = await postJson(`${chat}/v1/chat/completions`, {model: 'tiny', messages: MESSAGES, max_tokens: 6, temperature: 0, seed: 1234, stop: ['\n']})
    expect(r.status).toBe(200)
    const completion = await postJson(`${chat}/v1/completions`, {prompt: rendered, add_special_tokens: false, max_tokens: 6, temperature: 0, stop: ['\n']})
    expect(r.json).toMatchObject({object: 'chat.completion', model: 'tiny', usage: completion.json.usage})
    expect(r.json.id).toMatch(/^chatcmpl-/)
    expect(r.json.choices).toEqual([{index: 0, message: {role: 'assistant', content: completion.json.choices[0].text}, logprobs: null, finish_reason: completion.json.choices[0].finish_reason}])
  })

  it('gives chat logprobs in the chat shape, and 400s for bad messages or a template that refuses them', async () => {
    const r = await postJson(`${chat}/v1/chat/completions`, {messages: MESSAGES, max_completion_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3})
    const {content} = r.json.choices[0].logprobs
    expect(content.map((c: {token: string}) => c.token).join('')).toBe(r.json.choices[0].message.content)
    for (const c of content) {
      expect(Number.isFinite(c.logprob)).toBe(true)
      expect(c.bytes).toEqual([...Buffer.from(c.token)])
      expect(c.top_logprobs.length).toBeGreaterThanOrEqual(1)
      expect(c.top_logprobs.length).toBeLessThanOrEqual(3)
      // Greedy: the token drawn is the likeliest.
      expect(c.logprob).toBeCloseTo(Math.max(...c.top_logprobs.map((t: {logprob: number}) => t.logprob)), 6)
    }
    for (const [body, param] of [
      [{messages: []}, 'messages'],
      [{messages: [{role: 'user', content: [{type: 'image_url'}]}]}, 'messages'],
      [{messages: [{role: 'tool', content: 'x'}]}, 'messages'],
      [{messages: MESSAGES, top_logprobs: 2}, 'top_logprobs'],
      [{messages: MESSAGES, stream: true}, 'stream'],
    ] as const) {
      const bad = await postJson(`${chat}/v1/chat/completions`, body)
      expect(bad.status, JSON.stringify(body)).toBe(400)
      expect(bad.json.error.param).toBe(param)
    }
    expect((await postJson(`${chat}/v1/chat/completions`, {messages: [{role: 'tool', content: 'x'}]})).json.error.message).toMatch(/refused.*no tools here/)
  })
})
