import {randomBytes, randomInt} from 'node:crypto'
import type {Precision} from '../engine/precision.js'
import {generate, type GeneratedSample} from '../generate/generate.js'
import {continuationText, TextStream} from '../generate/text-stream.js'
import type {KvCacheDtype} from '../models/decode-cache.js'
import type {DecodingModel} from '../models/decoding-model.js'
import type {TextTokenizer} from '../tokenizer/load.js'
import type {CompletionRequest, RequestLimits} from './completion-request.js'
import {CancelledError, type Turns} from './fair-scheduler.js'
import {HttpError} from './http-error.js'
import {sequenceLogprobs} from './sequence-logprobs.js'
import type {TokenizerConfig} from './tokenizer-info.js'

/** What the server answers with: a model, its tokenizer, and its special tokens and context size. */
export interface CompletionEngine {
  name: string
  model: DecodingModel
  tokenizer: TextTokenizer
  eosTokenIds: number[]
  bosTokenId?: number
  /** Longest prompt + completion, in tokens. */
  maxPositions: number
  /** tokenizer_config.json and the chat template; without it, /tokenizer_info has only the special tokens and chat is refused. */
  tokenizerConfig?: TokenizerConfig
  /** The most UTF-16 characters one token can stand for (see `maxTokenChars`). */
  maxTokenChars: number
  /** serve's --precision: linear layers' matmuls in every forward, decoding and logprobs (engine/precision.ts); f32 when absent. */
  precision?: Precision
  /** serve's --kv-cache-dtype: attention's key/value cache (models/decode-cache.ts); f32 when absent. */
  kvCacheDtype?: KvCacheDtype
}

/** OpenAI's legacy completions logprobs: one entry per token shown (the prompt's too with echo). */
export interface CompletionLogprobs {
  tokens: string[]
  token_logprobs: (number | null)[]
  top_logprobs: (Record<string, number> | null)[]
  text_offset: number[]
}

export interface CompletionChoice {
  text: string
  index: number
  logprobs: CompletionLogprobs | null
  finish_reason: 'stop' | 'length'
}

export interface CompletionResponse {
  id: string
  object: 'text_completion'
  created: number
  model: string
  choices: CompletionChoice[]
  usage: {prompt_tokens: number; completion_tokens: number; total_tokens: number}
}

/** A prompt ready for the model: its token ids and the text they stand for. */
export interface PreparedPrompt {
  ids: number[]
  text: string
  /** The request's max_tokens, or the room left in the context when it has none. */
  maxTokens: number
}

/**
 * Tokenize and check every prompt of a request, before it is queued for the model: a prompt that
 * cannot fit the context is refused without tokenizing it all, and the event loop is given back
 * between prompts, so a request full of long prompts cannot hold other clients' sockets still.
 */
export async function preparePrompts(engine: CompletionEngine, req: CompletionRequest, limits: RequestLimits, signal?: AbortSignal): Promise<PreparedPrompt[]> {
  const out: PreparedPrompt[] = []
  let tokens = 0
  for (const [p, prompt] of req.prompts.entries()) {
    if (p > 0) await new Promise((r) => setImmediate(r))
    if (signal?.aborted) throw new CancelledError()
    const ids = promptIds(engine, prompt, req, req.prompts.length > 1 ? p : undefined)
    const maxTokens = req.maxTokens ?? engine.maxPositions - ids.length
    tokens += ids.length + req.n * maxTokens
    if (tokens > limits.maxRequestTokens) {
      throw new HttpError(413, `this request needs more than ${limits.maxRequestTokens} tokens (each prompt's tokens plus n × max_tokens); send fewer or shorter prompts per request (the server's --max-request-tokens)`, 'prompt')
    }
    out.push({ids, text: typeof prompt === 'string' ? prompt : engine.tokenizer.decode(ids), maxTokens})
  }
  return out
}

/**
 * The n choices of one prompt: n samples drawn in one batch from Random(seed, j), then, when
 * logprobs are asked for, one forward over prompt + completion per sample, whose numbers are
 * those `hybridize eval` computes. Each forward waits for its turn at the model.
 */
export async function completePrompt(engine: CompletionEngine, req: CompletionRequest, prompt: PreparedPrompt, seed: number, turns: Turns): Promise<{choices: Omit<CompletionChoice, 'index'>[]; completionTokens: number}> {
  const tok = engine.tokenizer
  const {ids} = prompt
  const samples: GeneratedSample[] = prompt.maxTokens === 0
    ? Array.from({length: req.n}, () => ({tokens: [], finishReason: 'length'}))
    : await generate(engine.model, ids, {
        maxNewTokens: prompt.maxTokens,
        n: req.n,
        seed,
        temperature: req.temperature,
        topP: req.topP,
        eosTokenIds: engine.eosTokenIds,
        precision: engine.precision,
        kvCacheDtype: engine.kvCacheDtype,
        stopWhen: req.stop.length ? (_, tokens) => stopAt(continuationText(tok, ids, tokens), req.stop) !== undefined : undefined,
        beforeStep: () => turns.next(),
      })
  const choices: Omit<CompletionChoice, 'index'>[] = []
  let completionTokens = 0
  for (const s of samples) {
    completionTokens += s.tokens.length
    const full = continuationText(tok, ids, s.tokens)
    const text = full.slice(0, stopAt(full, req.stop) ?? full.length)
    if (req.logprobs !== null) await turns.next()
    const logprobs = req.logprobs === null ? null : await choiceLogprobs(engine, ids, s.tokens, req.logprobs, req.echo ? undefined : prompt.text.length)
    // Cut at a stop string, the logprobs keep the tokens the text shows (the last one possibly running into the stop string).
    if (logprobs && text.length < full.length) trimLogprobs(logprobs, prompt.text.length + text.length)
    choices.push({
      text: req.echo ? prompt.text + text : text,
      logprobs,
      finish_reason: s.finishReason === 'length' ? 'length' : 'stop',
    })
  }
  return {choices, completionTokens}
}

/** The response for a request whose prompts were completed in order; choice p·n + j is sample j of prompt p. */
export function completionResponse(engine: CompletionEngine, prompts: PreparedPrompt[], results: Awaited<ReturnType<typeof completePrompt>>[]): CompletionResponse {
  const choices = results.flatMap((r) => r.choices).map((c, index) => ({...c, index}))
  const promptTokens = prompts.reduce((a, p) => a + p.ids.length, 0)
  const completionTokens = results.reduce((a, r) => a + r.completionTokens, 0)
  return {
    id: `cmpl-${randomBytes(12).toString('hex')}`,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: engine.name,
    choices,
    usage: {prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens},
  }
}

/** The seed of prompt p: the request's seed + p, or a random one when the request has none. */
export const promptSeed = (req: CompletionRequest): ((p: number) => number) => {
  const seed = req.seed ?? randomInt(2 ** 31)
  return (p) => seed + p
}

/**
 * The prompt as token ids, checked against the vocabulary and the context size. An empty prompt
 * starts from BOS (or EOS). A text too long to fit the context even if every token were the
 * longest in the vocabulary is refused before it is tokenized (tokenizing 1 MB takes seconds).
 */
function promptIds(engine: CompletionEngine, prompt: string | number[], req: CompletionRequest, index?: number): number[] {
  // Without max_tokens, a prompt must leave room for one new token.
  const maxTokens = req.maxTokens ?? 1
  const V = engine.model.vocabSize
  const which = index === undefined ? 'the prompt' : `prompt ${index}`
  const tooLong = (length: string, param: string) =>
    new HttpError(400, `this model's maximum context length is ${engine.maxPositions} tokens; ${which} has ${length} and max_tokens asks for ${maxTokens} more (lm-eval: pass max_length=${engine.maxPositions} in --model_args, and it truncates from the left)`, param)
  if (maxTokens >= engine.maxPositions) throw tooLong('at least 1 token', 'max_tokens')
  if (typeof prompt === 'string' && prompt.length > (engine.maxPositions - maxTokens) * engine.maxTokenChars) throw tooLong(`${prompt.length} characters, more than that many tokens can hold`, 'prompt')
  let ids = typeof prompt === 'string' ? engine.tokenizer.encode(prompt, {addSpecialTokens: req.addSpecialTokens}) : prompt
  const bad = ids.find((id) => id < 0 || id >= V)
  if (bad !== undefined) throw new HttpError(400, `prompt token id ${bad} is outside the vocabulary (0..${V - 1})`, 'prompt')
  if (ids.length === 0) {
    const start = engine.bosTokenId ?? engine.eosTokenIds[0]
    if (start === undefined) throw new HttpError(400, 'the prompt is empty and the model has no BOS or EOS token to start from', 'prompt')
    ids = [start]
  }
  if (ids.length + maxTokens > engine.maxPositions) throw tooLong(`${ids.length} tokens`, ids.length < engine.maxPositions ? 'max_tokens' : 'prompt')
  return ids
}

/** Where the first stop string begins in `text`, if any does. */
function stopAt(text: string, stop: string[]): number | undefined {
  let first: number | undefined
  for (const s of stop) {
    const i = text.indexOf(s)
    if (i >= 0 && (first === undefined || i < first)) first = i
  }
  return first
}

/**
 * Logprobs of the completion's tokens, after the prompt's when echoed; without echo the text
 * offsets start at the prompt text's length, as OpenAI's do.
 */
async function choiceLogprobs(engine: CompletionEngine, prompt: number[], completion: number[], k: number, promptChars?: number): Promise<CompletionLogprobs> {
  const ids = [...prompt, ...completion]
  const positions = await sequenceLogprobs(engine.model, ids, k, engine.precision)
  const from = promptChars === undefined ? 0 : prompt.length
  const tokenText = (id: number) => engine.tokenizer.decode([id])
  const out: CompletionLogprobs = {tokens: [], token_logprobs: [], top_logprobs: [], text_offset: []}
  let offset = promptChars ?? 0
  // Generated tokens read as the completion's text does: each the characters it settles (a token
  // ending inside a UTF-8 character reads '' and the next one carries the character), special
  // tokens skipped; so they join to the text and the offsets index it.
  const stream = new TextStream(engine.tokenizer, prompt)
  for (let t = from; t < ids.length; t++) {
    const text = t < prompt.length ? tokenText(ids[t]) : stream.push(ids[t]) + (t === ids.length - 1 ? stream.flush() : '')
    out.tokens.push(text)
    out.token_logprobs.push(positions[t].logprob)
    out.top_logprobs.push(positions[t].top && topByText(positions[t].top!, tokenText))
    out.text_offset.push(offset)
    offset += text.length
  }
  return out
}

/** Drops the entries that start at or after character `end`. */
function trimLogprobs(lp: CompletionLogprobs, end: number): void {
  const keep = lp.text_offset.findIndex((offset) => offset >= end)
  if (keep < 0) return
  for (const list of [lp.tokens, lp.token_logprobs, lp.top_logprobs, lp.text_offset]) list.length = keep
}

/** Alternatives keyed by their text; when two tokens read the same, the likelier one (listed first) keeps the key. */
function topByText(top: {id: number; logprob: number}[], tokenText: (id: number) => string): Record<string, number> {
  // No prototype: a token may read '__proto__'.
  const out = Object.create(null) as Record<string, number>
  for (const x of top) {
    const key = tokenText(x.id)
    if (!(key in out)) out[key] = x.logprob
  }
  return out
}
