import {HybridizeError} from '../errors.js'
import {redactUrl} from '../util/redact-url.js'

export const DEFAULT_ENDPOINT = 'https://huggingface.co'
/** huggingface_hub's DEFAULT_DOWNLOAD_TIMEOUT, in seconds. */
export const DEFAULT_READ_TIMEOUT = 10

/** $HF_ENDPOINT (a mirror such as https://hf-mirror.com), else the public hub; no trailing slash. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const endpoint = (env.HF_ENDPOINT?.trim() || DEFAULT_ENDPOINT).replace(/\/+$/, '')
  if (!isHttpUrl(endpoint)) {
    throw new HybridizeError(`HF_ENDPOINT must be an http(s) URL such as https://hf-mirror.com, got ${JSON.stringify(redactUrl(endpoint))}`, {code: 'E_USAGE', exitCode: 2})
  }
  return endpoint
}

/**
 * Seconds a hub connection may stay silent before it is retried: `flag` (--timeout), else $HF_HUB_DOWNLOAD_TIMEOUT,
 * else 10, as huggingface_hub reads it (which also takes fractions here).
 */
export function readTimeout(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): number {
  const [given, source] = flag !== undefined ? [flag, '--timeout'] : [env.HF_HUB_DOWNLOAD_TIMEOUT, 'HF_HUB_DOWNLOAD_TIMEOUT']
  if (given === undefined || given.trim() === '') return DEFAULT_READ_TIMEOUT
  const seconds = Number(given)
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new HybridizeError(`${source} must be a positive number of seconds, got ${JSON.stringify(given)}`, {code: 'E_USAGE', exitCode: 2})
  }
  return seconds
}

/** HF_HUB_OFFLINE=1 (or true/yes/on, as huggingface_hub reads it): never touch the network. */
export function isOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  return isTruthy(env.HF_HUB_OFFLINE)
}

/** HF_HUB_DISABLE_PROGRESS_BARS=1 turns the download bars off. */
export function progressBarsDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return isTruthy(env.HF_HUB_DISABLE_PROGRESS_BARS)
}

function isHttpUrl(text: string): boolean {
  try {
    return /^https?:$/.test(new URL(text).protocol)
  } catch {
    return false
  }
}

/** huggingface_hub's reading of a boolean variable. */
export function isTruthy(value: string | undefined): boolean {
  return ['1', 'true', 'yes', 'on'].includes((value ?? '').trim().toLowerCase())
}
