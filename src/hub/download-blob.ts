import {createHash, type Hash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {open, rename, rm, stat, truncate, type FileHandle} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'
import {HybridizeError} from '../errors.js'
import {diskFullError} from './disk.js'

/** One blob to fetch: its bytes are verified against `checksum` before they get their final name. */
export interface BlobJob {
  /** The repo path, for messages. */
  file: string
  url: string
  size: number
  /** blobs/<etag>, or the file in --local-dir. */
  destination: string
  /** Where the bytes go first, kept between runs: `blobs/<etag>.incomplete`, or in --local-dir huggingface_hub's
   * `.cache/huggingface/download/<hash>.<etag>.incomplete`. */
  partial: string
  /** LFS files: the sha256 of the content. Plain git files: the git blob sha1 (`blob <size>\0` + content). */
  checksum?: {kind: 'sha256' | 'git-sha1'; hex: string}
}

/** Tries after the first that bring no new byte, waiting 0.1, 0.2, 0.4, 0.8, 1.6 s before each. */
const MAX_RETRIES = 5
const BACKOFF_MS = 100

/**
 * Downloads one blob into the cache (or one file into --local-dir), resuming from its partial file with a Range
 * request, retrying a dropped or stalled connection (hub-fetch.ts's read timeout) from where it stopped, and renaming
 * it to `destination` only once size and checksum match.
 * @huggingface/hub's downloadFileToCacheDir rewrites `.incomplete` from zero, never retries and checks no hash,
 * which is why this is ours.
 */
export async function downloadBlob(
  job: BlobJob,
  opts: {fetch: typeof fetch; signal: AbortSignal; onBytes?: (delta: number) => void},
): Promise<void> {
  const partial = job.partial
  const state = {hash: newHash(job), offset: await keptBytes(partial, job.size)}
  if (state.offset > 0) await hashFile(partial, state.hash)
  opts.onBytes?.(state.offset)

  try {
    await fetchRest(job, partial, state, opts)
    await verify(job, state.hash)
  } catch (err) {
    if (err instanceof HybridizeError && err.code === 'E_CHECKSUM') await rm(partial, {force: true})
    throw err
  }
  await rename(partial, job.destination)
}

async function fetchRest(
  job: BlobJob,
  partial: string,
  state: {hash: Hash; offset: number},
  opts: {fetch: typeof fetch; signal: AbortSignal; onBytes?: (delta: number) => void},
): Promise<void> {
  let failures = 0
  while (state.offset < job.size) {
    const before = state.offset
    try {
      await transfer(job, partial, state, opts)
      if (state.offset < job.size) throw new Error('the response ended early')
    } catch (err) {
      if (opts.signal.aborted || !retryable(err)) throw err
      // Like huggingface_hub's http_get: the count restarts whenever a try brought new bytes.
      failures = state.offset > before ? 1 : failures + 1
      if (failures > MAX_RETRIES) {
        const why = err instanceof HybridizeError ? err.message : 'the connection was lost'
        throw new HybridizeError(
          `downloading ${job.file} failed ${failures} times in a row (${why}); ${state.offset} of ${job.size} bytes are kept, run again to resume`,
          {code: err instanceof HybridizeError ? err.code : 'E_NETWORK', cause: err},
        )
      }
      await sleep(BACKOFF_MS * 2 ** (failures - 1), undefined, {signal: opts.signal})
    }
  }
}

/** A stalled, dropped or refused connection is worth another try from where it stopped; an answer of the hub is not. */
function retryable(err: unknown): boolean {
  return !(err instanceof HybridizeError) || err.code === 'E_TIMEOUT' || err.code === 'E_NETWORK'
}

async function transfer(
  job: BlobJob,
  partial: string,
  state: {hash: Hash; offset: number},
  opts: {fetch: typeof fetch; signal: AbortSignal; onBytes?: (delta: number) => void},
): Promise<void> {
  const headers: Record<string, string> = state.offset > 0 ? {range: `bytes=${state.offset}-`} : {}
  const response = await opts.fetch(job.url, {headers, signal: opts.signal})
  if (state.offset > 0 && response.status === 200) {
    // The server ignored the Range header and sends the whole file: start over.
    opts.onBytes?.(-state.offset)
    state.hash = newHash(job)
    state.offset = 0
  } else if (state.offset > 0 && rangeStart(response) !== state.offset) {
    await response.body?.cancel()
    throw new HybridizeError(`the hub sent another byte range of ${job.file} than asked for (from ${state.offset})`, {code: 'E_HUB_HTTP'})
  }
  const out = await open(partial, state.offset > 0 ? 'a' : 'w')
  try {
    for await (const chunk of response.body ?? []) {
      const bytes = chunk as Uint8Array
      if (state.offset + bytes.length > job.size) throw checksumError(job, `more than ${job.size} bytes`)
      await write(out, bytes, partial)
      state.hash.update(bytes)
      state.offset += bytes.length
      opts.onBytes?.(bytes.length)
    }
  } finally {
    await out.close()
  }
}

function rangeStart(response: Response): number | undefined {
  if (response.status !== 206) return undefined
  const match = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')
  return match ? Number(match[1]) : undefined
}

async function write(out: FileHandle, bytes: Uint8Array, path: string): Promise<void> {
  try {
    await out.write(bytes)
  } catch (err) {
    throw (err as NodeJS.ErrnoException).code === 'ENOSPC' ? diskFullError(path, err) : err
  }
}

async function verify(job: BlobJob, hash: Hash): Promise<void> {
  if (!job.checksum) return
  const got = hash.digest('hex')
  if (got !== job.checksum.hex) throw checksumError(job, `${job.checksum.kind} ${got}, expected ${job.checksum.hex}`)
}

/** The caller deletes the partial file on E_CHECKSUM. */
function checksumError(job: BlobJob, got: string): HybridizeError {
  return new HybridizeError(`checksum mismatch for ${job.file}: got ${got}; the partial download was deleted, run again`, {code: 'E_CHECKSUM'})
}

function newHash(job: Pick<BlobJob, 'size' | 'checksum'>): Hash {
  if (job.checksum?.kind !== 'git-sha1') return createHash('sha256')
  return createHash('sha1').update(`blob ${job.size}\0`)
}

/** Bytes already in `.incomplete`; a partial longer than the file cannot be trusted and is cleared. */
async function keptBytes(partial: string, size: number): Promise<number> {
  const existing = await stat(partial).catch(() => undefined)
  if (!existing) return 0
  if (existing.size <= size) return existing.size
  await truncate(partial, 0)
  return 0
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
}

/** Whether the file at `path` holds exactly the bytes `job` describes (size, then checksum when one is known). */
export async function fileMatches(path: string, job: Pick<BlobJob, 'size' | 'checksum'>): Promise<boolean> {
  if ((await stat(path)).size !== job.size || !job.checksum) return false
  const hash = newHash(job)
  await hashFile(path, hash)
  return hash.digest('hex') === job.checksum.hex
}
