import {HybridizeError} from '../errors.js'
import {redactUrl} from '../util/redact-url.js'

/** What an error message may say about the request: never the token, and the endpoint only redacted. */
export interface HubContext {
  endpoint: string
  repo: string
  revision: string
  /** Whether a token was sent: changes what a 401 means. */
  authenticated: boolean
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET',
])

/** A refused, unresolvable or reset connection as a HybridizeError; undefined for anything else (aborts included). */
export function networkError(err: unknown, ctx: HubContext): HybridizeError | undefined {
  const code = errorCode(err)
  // undici refuses some requests before opening a socket (a port that fetch blocks, such as 9 or 6000): `fetch failed`, no code.
  const refused = err instanceof TypeError && err.message === 'fetch failed' && !code ? (err.cause as Error | undefined)?.message : undefined
  const reason = code && NETWORK_CODES.has(code) ? code : refused
  if (!reason) return undefined
  return new HybridizeError(
    `cannot reach ${redactUrl(ctx.endpoint)} (${reason}): check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the cache only`,
    {code: 'E_NETWORK', cause: err},
  )
}

/** The hub's answer to a failed request as one line, telling apart what the user can do about it. */
export async function httpError(response: Response, ctx: HubContext): Promise<HybridizeError> {
  const errorCode = response.headers.get('x-error-code')
  const serverSays = response.headers.get('x-error-message') ?? await bodyMessage(response)
  const {repo, revision} = ctx
  const endpoint = redactUrl(ctx.endpoint)
  if (errorCode === 'RepoNotFound') {
    const hint = ctx.authenticated ? '' : '; if it is private, set HF_TOKEN or pass --token'
    return new HybridizeError(`repository ${repo} not found on ${endpoint}${hint}`, {code: 'E_REPO_NOT_FOUND'})
  }
  if (errorCode === 'RevisionNotFound') {
    return new HybridizeError(`revision ${revision} not found in ${repo}`, {code: 'E_REVISION_NOT_FOUND'})
  }
  if (errorCode === 'EntryNotFound') {
    return new HybridizeError(`file ${filePath(response.url)} not found in ${repo}@${revision}`, {code: 'E_FILE_NOT_FOUND'})
  }
  if (response.status === 401) {
    const message = ctx.authenticated
      ? `the hub rejected your token for ${repo} (401): check HF_TOKEN or --token`
      : `${repo} is gated and needs a Hugging Face token: set HF_TOKEN or pass --token (create one at ${endpoint}/settings/tokens)`
    return new HybridizeError(message, {code: 'E_AUTH_REQUIRED', exitCode: 3})
  }
  if (response.status === 403) {
    return new HybridizeError(
      `your token has no access to ${repo}: request access at ${endpoint}/${repo} and try again once it is granted`,
      {code: 'E_ACCESS_DENIED', exitCode: 4},
    )
  }
  const detail = serverSays ? `: ${serverSays}` : ''
  return new HybridizeError(`the hub answered ${response.status} for ${new URL(response.url).pathname}${redactUrl(detail)}`, {code: 'E_HUB_HTTP'})
}

async function bodyMessage(response: Response): Promise<string | undefined> {
  try {
    const text = (await response.text()).trim()
    if (!text) return undefined
    const json = JSON.parse(text) as {error?: unknown}
    return typeof json.error === 'string' ? json.error : undefined
  } catch {
    return undefined
  }
}

function filePath(url: string): string {
  const match = /\/resolve\/[^/]+\/(.+)$/.exec(new URL(url).pathname)
  return match ? decodeURIComponent(match[1]) : url
}

// undici wraps socket errors: TypeError('fetch failed', {cause: Error{code}}), sometimes with an AggregateError inside.
function errorCode(err: unknown): string | undefined {
  for (let e = err as {code?: unknown; cause?: unknown; errors?: unknown[]} | undefined; e; e = e.cause as typeof e) {
    if (typeof e.code === 'string') return e.code
    const inner = e.errors?.[0] as {code?: unknown} | undefined
    if (typeof inner?.code === 'string') return inner.code
  }
  return undefined
}
