import {randomBytes, randomInt} from 'node:crypto'
import {generate, type GeneratedSample} from '../generate/generate.js'
import {continuationText} from '../generate/text-stream.js'
import type {DecodingModel} from '../models/decoding-model.js'
import type {TextTokenizer} from '../tokenizer/load.js'
import type {CompletionRequest} from './completion-request.js'
import {HttpError} from './http-error.js'
import {sequenceLogprobs} from './sequence-logprobs.js'

/** What the server answers with: a model, its tokenizer, and its special tokens and context size. */
export interface CompletionEngine {
  name: string
  model: DecodingModel
  tokenizer: TextTokenizer
  eosTokenIds: number[]
  bosTokenId?: number
  /** Longest prompt + completion, in tokens. */
  maxPositions: number
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

/**
 * Answer one request: for each prompt, n samples drawn in one batch (prompt i with seed + i),
 * then, when logprobs are asked for, one forward over prompt + completion per sample, whose
 * numbers are those `hybridize eval` computes. Choice p·n + j is sample j of prompt p.
 */
export async function createCompletion(engine: CompletionEngine, req: CompletionRequest): Promise<CompletionResponse> {
  const tok = engine.tokenizer
  const seed = req.seed ?? randomInt(2 ** 31)
  const choices: CompletionChoice[] = []
  let promptTokens = 0
  let completionTokens = 0
  for (const [p, prompt] of req.prompts.entries()) {
    const ids = promptIds(engine, prompt, req.maxTokens)
    promptTokens += ids.length
    const promptText = typeof prompt === 'string' ? prompt : tok.decode(ids)
    const samples: GeneratedSample[] = req.maxTokens === 0
      ? Array.from({length: req.n}, () => ({tokens: [], finishReason: 'length'}))
      : await generate(engine.model, ids, {
          maxNewTokens: req.maxTokens,
          n: req.n,
          seed: seed + p,
          temperature: req.temperature,
          topP: req.topP,
          eosTokenIds: engine.eosTokenIds,
          stopWhen: req.stop.length ? (_, tokens) => stopAt(continuationText(tok, ids, tokens), req.stop) !== undefined : undefined,
        })
    for (const s of samples) {
      completionTokens += s.tokens.length
      const full = continuationText(tok, ids, s.tokens)
      const text = full.slice(0, stopAt(full, req.stop) ?? full.length)
      choices.push({
        text: req.echo ? promptText + text : text,
        index: choices.length,
        logprobs: req.logprobs === null ? null : await choiceLogprobs(engine, ids, s.tokens, req.logprobs, req.echo ? undefined : promptText.length),
        finish_reason: s.finishReason === 'length' ? 'length' : 'stop',
      })
    }
  }
  return {
    id: `cmpl-${randomBytes(12).toString('hex')}`,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: engine.name,
    choices,
    usage: {prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens},
  }
}

/** The prompt as token ids, checked against the vocabulary and the context size. An empty prompt starts from BOS (or EOS). */
function promptIds(engine: CompletionEngine, prompt: string | number[], maxTokens: number): number[] {
  const V = engine.model.vocabSize
  let ids = typeof prompt === 'string' ? engine.tokenizer.encode(prompt) : prompt
  const bad = ids.find((id) => id < 0 || id >= V)
  if (bad !== undefined) throw new HttpError(400, `prompt token id ${bad} is outside the vocabulary (0..${V - 1})`, 'prompt')
  if (ids.length === 0) {
    const start = engine.bosTokenId ?? engine.eosTokenIds[0]
    if (start === undefined) throw new HttpError(400, 'the prompt is empty and the model has no BOS or EOS token to start from', 'prompt')
    ids = [start]
  }
  if (ids.length + maxTokens > engine.maxPositions) {
    throw new HttpError(400, `this model's maximum context length is ${engine.maxPositions} tokens; the prompt has ${ids.length} and max_tokens asks for ${maxTokens} more`, 'max_tokens')
  }
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
  const positions = await sequenceLogprobs(engine.model, ids, k)
  const from = promptChars === undefined ? 0 : prompt.length
  const tokenText = (id: number) => engine.tokenizer.decode([id])
  const out: CompletionLogprobs = {tokens: [], token_logprobs: [], top_logprobs: [], text_offset: []}
  let offset = promptChars ?? 0
  for (let t = from; t < ids.length; t++) {
    const text = tokenText(ids[t])
    out.tokens.push(text)
    out.token_logprobs.push(positions[t].logprob)
    out.top_logprobs.push(positions[t].top && topByText(positions[t].top!, tokenText))
    out.text_offset.push(offset)
    offset += text.length
  }
  return out
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
