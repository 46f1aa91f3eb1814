import {HybridizeError} from '../errors.js'
import {httpError, networkError, type HubContext} from './errors.js'
import {redactUrl} from '../util/redact-url.js'

export interface HubFetchOptions {
  /** --token / HF_TOKEN / the login file: sent as a Bearer token to the endpoint's origin only. */
  token?: string
  /** Ctrl-C: aborts every request made without a signal of its own. */
  signal?: AbortSignal
  /** Seconds without a byte (while waiting for the headers or for the next piece of the body) before giving up. */
  readTimeout: number
}

/**
 * A fetch for @huggingface/hub's `fetch` option and for our own downloads:
 * - authentication for the endpoint's origin only: credentials written into HF_ENDPOINT
 *   (`http://user:password@mirror`) become basic auth and win over the token, as in httpx, which huggingface_hub
 *   uses; else the token (the library's own `accessToken` insists on an `hf_` prefix that mirrors and older tokens
 *   lack). Node's fetch refuses URLs with credentials, so they are taken out of every URL;
 * - a read timeout like huggingface_hub's HF_HUB_DOWNLOAD_TIMEOUT: a connection that stalls fails with E_TIMEOUT
 *   instead of waiting forever (download-blob.ts retries it from where it stopped);
 * - the hub's error statuses and unreachable hosts as one-line HybridizeErrors (errors.ts).
 */
export function hubFetch(ctx: HubContext, opts: HubFetchOptions): typeof fetch {
  const endpoint = new URL(ctx.endpoint)
  const basic = endpoint.username || endpoint.password
    ? `Basic ${Buffer.from(`${decodeURIComponent(endpoint.username)}:${decodeURIComponent(endpoint.password)}`).toString('base64')}`
    : undefined
  const authorization = basic ?? (opts.token ? `Bearer ${opts.token}` : undefined)
  const timeoutMs = opts.readTimeout * 1000

  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input)
    url.username = ''
    url.password = ''
    const headers = new Headers(init?.headers)
    if (authorization && url.origin === endpoint.origin) headers.set('authorization', authorization)

    const watchdog = new AbortController()
    const stall = () => watchdog.abort(stalledError(ctx, opts.readTimeout))
    const outer = init?.signal ?? opts.signal
    const signal = outer ? AbortSignal.any([outer, watchdog.signal]) : watchdog.signal
    const timer = setTimeout(stall, timeoutMs).unref()
    let response: Response
    try {
      response = await fetch(url, {...init, headers, signal})
      if (!response.ok) throw await httpError(response, ctx)
    } catch (err) {
      if (watchdog.signal.aborted) throw watchdog.signal.reason
      throw networkError(err, ctx) ?? err
    } finally {
      clearTimeout(timer)
    }
    return withReadTimeout(response, timeoutMs, stall, watchdog.signal)
  }
}

function stalledError(ctx: HubContext, seconds: number): HybridizeError {
  return new HybridizeError(
    `no data from ${redactUrl(ctx.endpoint)} for ${seconds} s (HF_HUB_DOWNLOAD_TIMEOUT or --timeout sets the limit)`,
    {code: 'E_TIMEOUT'},
  )
}

/** The same response, its body failing with the watchdog's error when no chunk arrives within `timeoutMs`. */
function withReadTimeout(response: Response, timeoutMs: number, stall: () => void, watchdog: AbortSignal): Response {
  if (!response.body) return response
  const reader = response.body.getReader()
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Armed only while a reader waits on the network, so a slow consumer never counts as a stall.
      const timer = setTimeout(stall, timeoutMs).unref()
      try {
        const {done, value} = await reader.read()
        if (done) controller.close()
        else controller.enqueue(value)
      } catch (err) {
        controller.error(watchdog.aborted ? watchdog.reason : err)
      } finally {
        clearTimeout(timer)
      }
    },
    cancel: (reason) => reader.cancel(reason),
  })
  const wrapped = new Response(body, {status: response.status, statusText: response.statusText, headers: response.headers})
  Object.defineProperty(wrapped, 'url', {value: response.url})
  return wrapped
}
