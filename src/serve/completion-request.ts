import {HttpError} from './http-error.js'

/**
 * The fields of an OpenAI `POST /v1/completions` body this server honours, checked. `prompt` may be
 * text, a list of texts, one list of token ids, or a list of them (lm-evaluation-harness sends ids).
 */
export interface CompletionRequest {
  /** Each prompt as text or token ids. */
  prompts: (string | number[])[]
  /** Whether text prompts get the tokenizer's special tokens (BOS); vLLM's `add_special_tokens`, true for completions. */
  addSpecialTokens: boolean
  /** New tokens per sample at most; undefined: as many as the context has room for (chat's default, as vLLM's). */
  maxTokens?: number
  temperature: number
  topP: number
  n: number
  echo: boolean
  /** Alternatives per position in top_logprobs; null: no logprobs. */
  logprobs: number | null
  stop: string[]
  seed?: number
}

/** What one request may ask of the model; the server's flags set them. */
export interface RequestLimits {
  /** Prompts in one request's `prompt` list. */
  maxPrompts: number
  /** Sum over a request's prompts of the prompt's tokens plus n × max_tokens. */
  maxRequestTokens: number
}

export const DEFAULT_LIMITS: RequestLimits = {maxPrompts: 256, maxRequestTokens: 1 << 18}

const MAX_LOGPROBS = 5
const MAX_STOP = 16

export function parseCompletionRequest(body: unknown, limits: RequestLimits = DEFAULT_LIMITS): CompletionRequest {
  const f = bodyFields(body)
  const prompts = parsePrompt(f.raw.prompt)
  if (prompts.length > limits.maxPrompts) {
    throw new HttpError(400, `'prompt' has ${prompts.length} prompts; this server takes at most ${limits.maxPrompts} per request (its --max-prompts): send them in several requests`, 'prompt')
  }
  return {
    prompts,
    addSpecialTokens: f.bool('add_special_tokens', true),
    maxTokens: f.int('max_tokens', 16, 0, 1 << 20),
    ...samplingFields(f),
    echo: f.bool('echo', false),
    logprobs: f.present('logprobs') ? f.int('logprobs', 0, 0, MAX_LOGPROBS) : null,
  }
}

/** A JSON object body's fields, each read with a type and range check that names the field in its 400. */
export function bodyFields(body: unknown) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the request body must be a JSON object')
  const raw = body as Record<string, unknown>
  const present = (key: string): boolean => raw[key] !== undefined && raw[key] !== null
  return {
    raw,
    present,
    int(key: string, fallback: number, min: number, max: number): number {
      if (!present(key)) return fallback
      const v = raw[key]
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new HttpError(400, `'${key}' must be an integer from ${min} to ${max}`, key)
      return v
    },
    num(key: string, fallback: number, ok: (v: number) => boolean, range: string): number {
      if (!present(key)) return fallback
      const v = raw[key]
      if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new HttpError(400, `'${key}' must be a number ${range}`, key)
      return v
    },
    bool(key: string, fallback: boolean): boolean {
      if (!present(key)) return fallback
      if (typeof raw[key] !== 'boolean') throw new HttpError(400, `'${key}' must be true or false`, key)
      return raw[key] as boolean
    },
  }
}

/** The sampling fields completions and chat completions share. */
export function samplingFields(f: ReturnType<typeof bodyFields>): Pick<CompletionRequest, 'temperature' | 'topP' | 'n' | 'stop' | 'seed'> {
  // A client asking for server-sent events would misread one JSON body; say so rather than ignore it.
  if (f.bool('stream', false)) throw new HttpError(400, "'stream': true is not supported; this server answers with one JSON body", 'stream')
  return {
    temperature: f.num('temperature', 1, (v) => v >= 0 && v <= 2, 'from 0 to 2'),
    topP: f.num('top_p', 1, (v) => v > 0 && v <= 1, 'in (0, 1]'),
    n: f.int('n', 1, 1, 128),
    stop: parseStop(f.raw.stop),
    seed: f.present('seed') ? f.int('seed', 0, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) : undefined,
  }
}

function parsePrompt(prompt: unknown): (string | number[])[] {
  const isIds = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x))
  if (typeof prompt === 'string') return [prompt]
  if (isIds(prompt)) return [prompt]
  if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((p) => typeof p === 'string' || isIds(p))) return prompt as (string | number[])[]
  throw new HttpError(400, `'prompt' must be a string, a list of strings, a list of token ids, or a list of lists of token ids (none empty)`, 'prompt')
}

function parseStop(stop: unknown): string[] {
  if (stop === undefined || stop === null) return []
  const list = typeof stop === 'string' ? [stop] : stop
  // OpenAI allows 4 stop strings; lm-evaluation-harness may send more (its `until` list plus EOS), as vLLM accepts.
  if (!Array.isArray(list) || list.length > MAX_STOP || !list.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new HttpError(400, `'stop' must be a non-empty string or a list of up to ${MAX_STOP} of them`, 'stop')
  }
  return list as string[]
}
