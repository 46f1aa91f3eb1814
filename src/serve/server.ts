import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {chatResponse, parseChatRequest} from './chat-completions.js'
import {ChatTemplate} from './chat-template.js'
import {DEFAULT_LIMITS, parseCompletionRequest, type CompletionRequest, type RequestLimits} from './completion-request.js'
import {completePrompt, completionResponse, preparePrompts, promptSeed, type CompletionEngine, type CompletionResponse} from './completions.js'
import {CancelledError, FairScheduler} from './fair-scheduler.js'
import {HttpError} from './http-error.js'
import {parseJson, readBody} from './request-body.js'
import {maxTokenChars} from './token-chars.js'
import {detokenize, tokenize} from './tokenize.js'

/** How long a client may take, in milliseconds (0: no limit). */
export interface ServeTimeouts {
  /** From connecting to the end of the request headers (node:http's `headersTimeout`). */
  headers: number
  /** From connecting to the end of the request body (node:http's `requestTimeout`). */
  request: number
  /** A kept-alive connection waiting for its next request (node:http's `keepAliveTimeout`). */
  keepAlive: number
  /** Silence on a connection while its request is being read (the socket timeout); not while the model computes. */
  idle: number
}

export interface ServeOptions {
  /** Largest request body in bytes; larger ones get 413. */
  maxBodyBytes: number
  limits?: RequestLimits
  timeouts?: ServeTimeouts
  /** Called once per request, when answered (or abandoned). */
  log?: (line: string) => void
}

export const DEFAULT_MAX_BODY_BYTES = 1 << 20
export const DEFAULT_TIMEOUTS: ServeTimeouts = {headers: 10_000, request: 30_000, keepAlive: 5_000, idle: 10_000}

/**
 * An OpenAI-compatible completions server over node:http:
 *   POST /v1/completions        (prompt, max_tokens, temperature, top_p, n, echo, logprobs, stop, seed)
 *   POST /v1/chat/completions   (messages rendered by the model's chat template; the same sampling fields)
 *   GET  /v1/models
 *   POST /tokenize, POST /detokenize, GET /tokenizer_info   (vLLM's, which lm-eval's remote tokenizer reads)
 * Bodies are read and prompts tokenized as they arrive; requests then take turns at the model, a
 * few forwards a turn (FairScheduler), so a large request slows only itself. Work for a client
 * that disconnects stops before its next forward. Client mistakes get a 4xx with an OpenAI-style
 * JSON error; an unexpected failure gets a 500; either way the server keeps serving.
 */
export function createCompletionServer(served: Omit<CompletionEngine, 'maxTokenChars'>, opts: ServeOptions): Server {
  const engine: CompletionEngine = {...served, maxTokenChars: maxTokenChars(served.tokenizer)}
  const limits = opts.limits ?? DEFAULT_LIMITS
  const timeouts = opts.timeouts ?? DEFAULT_TIMEOUTS
  const scheduler = new FairScheduler()
  const created = Math.floor(Date.now() / 1000)
  const template = new ChatTemplate(engine.tokenizerConfig)
  const info = tokenizerInfo(engine)
  const server = createServer(
    {
      headersTimeout: timeouts.headers,
      requestTimeout: timeouts.request,
      // How often node:http looks for connections past headersTimeout / requestTimeout (default 30 s).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, timeouts.headers / 4 || 1000, timeouts.request / 4 || 1000)),
    },
    (req, res) => {
      const started = Date.now()
      // The socket timeout guards reading the request; a request waiting for the model is silent by design.
      req.socket.setTimeout(timeouts.idle)
      const gone = new AbortController()
      res.on('close', () => {
        if (!res.writableFinished) gone.abort()
      })
      handle(req, gone.signal)
        .then((body) => send(res, 200, body))
        .catch((err: unknown) => {
          if (err instanceof CancelledError || gone.signal.aborted) return
          const e = err instanceof HttpError ? err : new HttpError(500, `internal error: ${err instanceof Error ? err.message : String(err)}`)
          send(res, e.status, e.body())
        })
        .finally(() => opts.log?.(`${req.method} ${req.url} ${gone.signal.aborted ? 'connection closed before the answer' : res.statusCode} ${Date.now() - started} ms`))
    },
  )
  server.keepAliveTimeout = timeouts.keepAlive
  server.timeout = timeouts.idle
  return server

  async function handle(req: IncomingMessage, signal: AbortSignal): Promise<unknown> {
    const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '')
    const body = async () => {
      const json = parseJson(await readBody(req, opts.maxBodyBytes))
      req.socket.setTimeout(0)
      return json
    }
    if (path === '/v1/models') {
      allow(req, path, 'GET')
      return {object: 'list', data: [{id: engine.name, object: 'model', created, owned_by: 'hybridize', max_model_len: engine.maxPositions}]}
    }
    if (path === '/v1/completions') {
      allow(req, path, 'POST')
      return complete(parseCompletionRequest(await body(), limits), signal)
    }
    if (path === '/v1/chat/completions') {
      allow(req, path, 'POST')
      return chatResponse(await complete(parseChatRequest(await body(), template), signal))
    }
    if (path === '/tokenize') {
      allow(req, path, 'POST')
      return tokenize(engine, template, await body())
    }
    if (path === '/detokenize') {
      allow(req, path, 'POST')
      return detokenize(engine, await body())
    }
    if (path === '/tokenizer_info') {
      allow(req, path, 'GET')
      return info
    }
    throw new HttpError(404, `no route ${req.method} ${path}; this server has POST /v1/completions, POST /v1/chat/completions, GET /v1/models, POST /tokenize, POST /detokenize and GET /tokenizer_info`)
  }

  async function complete(request: CompletionRequest, signal: AbortSignal): Promise<CompletionResponse> {
    const prompts = await preparePrompts(engine, request, limits, signal)
    const seed = promptSeed(request)
    const turns = scheduler.turns(signal)
    try {
      const results = []
      for (const [p, prompt] of prompts.entries()) results.push(await completePrompt(engine, request, prompt, seed(p), turns))
      return completionResponse(engine, prompts, results)
    } finally {
      turns.done()
    }
  }
}

/** GET /tokenizer_info: tokenizer_config.json as vLLM serves it, with eos_token and bos_token always present (lm-eval requires eos_token). */
function tokenizerInfo(engine: CompletionEngine): Record<string, unknown> {
  const info: Record<string, unknown> = {tokenizer_class: 'PreTrainedTokenizerFast', ...engine.tokenizerConfig?.info}
  const text = (id: number | undefined) => (id === undefined ? null : engine.tokenizer.decode([id]))
  info.eos_token ??= text(engine.eosTokenIds[0])
  info.bos_token ??= text(engine.bosTokenId)
  return info
}

function allow(req: IncomingMessage, path: string, method: 'GET' | 'POST'): void {
  if (req.method !== method) throw new HttpError(405, `${req.method} is not allowed on ${path}; use ${method}`)
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return
  const text = JSON.stringify(body)
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)})
  res.end(text)
}
