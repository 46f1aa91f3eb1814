import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {parseCompletionRequest} from './completion-request.js'
import {createCompletion, type CompletionEngine} from './completions.js'
import {HttpError} from './http-error.js'
import {SerialQueue} from './serial-queue.js'

export interface ServeOptions {
  /** Largest request body in bytes; larger ones get 413. */
  maxBodyBytes: number
  /** Called once per request, when answered. */
  log?: (line: string) => void
}

export const DEFAULT_MAX_BODY_BYTES = 1 << 20

/**
 * An OpenAI-compatible completions server over node:http:
 *   POST /v1/completions   (prompt, max_tokens, temperature, top_p, n, echo, logprobs, stop, seed)
 *   GET  /v1/models
 * Requests are computed one at a time, in arrival order. Client mistakes get a 4xx with an
 * OpenAI-style JSON error; an unexpected failure gets a 500; either way the server keeps serving.
 */
export function createCompletionServer(engine: CompletionEngine, opts: ServeOptions): Server {
  const queue = new SerialQueue()
  const created = Math.floor(Date.now() / 1000)
  return createServer((req, res) => {
    const started = Date.now()
    handle(req)
      .then((body) => send(res, 200, body))
      .catch((err: unknown) => {
        const e = err instanceof HttpError ? err : new HttpError(500, `internal error: ${err instanceof Error ? err.message : String(err)}`)
        send(res, e.status, e.body())
      })
      .finally(() => opts.log?.(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started} ms`))
  })

  async function handle(req: IncomingMessage): Promise<unknown> {
    const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '')
    if (path === '/v1/models') {
      if (req.method !== 'GET') throw new HttpError(405, `${req.method} is not allowed on ${path}; use GET`)
      return {object: 'list', data: [{id: engine.name, object: 'model', created, owned_by: 'hybridize'}]}
    }
    if (path === '/v1/completions') {
      if (req.method !== 'POST') throw new HttpError(405, `${req.method} is not allowed on ${path}; use POST`)
      const request = parseCompletionRequest(parseJson(await readBody(req, opts.maxBodyBytes)))
      return queue.run(() => createCompletion(engine, request))
    }
    throw new HttpError(404, `no route ${req.method} ${path}; this server has POST /v1/completions and GET /v1/models`)
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)})
  res.end(text)
}

/**
 * The request body, up to `limit` bytes. A larger body is read to its end without being kept (so
 * the client gets the 413 rather than a reset connection), unless it runs far past the limit.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const tooLarge = new HttpError(413, `the request body is larger than ${limit} bytes`)
    if (Number(req.headers['content-length']) > 16 * limit) {
      reject(tooLarge)
      req.destroy()
      return
    }
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
      else if (size > 16 * limit) req.destroy()
    })
    req.on('end', () => (size > limit ? reject(tooLarge) : resolve(Buffer.concat(chunks))))
    req.on('error', reject)
    req.on('close', () => {
      if (size > limit) reject(tooLarge)
    })
  })
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new HttpError(400, `the request body is not valid JSON (${(err as Error).message})`)
  }
}
