import {listFiles, modelInfo, type ListFileEntry} from '@huggingface/hub'
import {mkdir, readdir, rm, stat, symlink, writeFile} from 'node:fs/promises'
import {dirname, join, relative} from 'node:path'
import {HybridizeError} from '../errors.js'
import {cachedSnapshot, hubCacheDir, repoFolder} from './cache.js'
import {assertFreeSpace} from './disk.js'
import {downloadBlob, type BlobJob} from './download-blob.js'
import {hubEndpoint, isOffline, readTimeout} from './endpoint.js'
import type {HubContext} from './errors.js'
import {hubFetch} from './hub-fetch.js'
import {createDownloadProgress} from './progress-bars.js'
import {COMMIT_HASH, type RepoRef} from './repo-ref.js'
import {assertSafeRepoPath, selectFiles} from './select.js'
import {resolveToken} from './token.js'

export interface DownloadOptions extends RepoRef {
  include?: string[]
  exclude?: string[]
  /** --token; else HF_TOKEN, else the token file. */
  token?: string
  cacheDir?: string
  env?: NodeJS.ProcessEnv
  maxWorkers?: number
  /** --timeout: seconds without data before a transfer is retried; default $HF_HUB_DOWNLOAD_TIMEOUT, else 10. */
  readTimeout?: string
  /** Aborting (Ctrl-C) stops every transfer, keeps the `.incomplete` files and throws exit code 130. */
  signal?: AbortSignal
  /** Progress bars on stderr; by default drawn only on a TTY and never when `quiet`. */
  progress?: DownloadReporter
  quiet?: boolean
}

export interface DownloadResult {
  /** snapshots/<commit>: a model folder. */
  path: string
  commit: string
  /** Repo paths in the snapshot, as chosen by --include/--exclude. */
  files: string[]
  /** Their total size. */
  bytes: number
}

/**
 * Progress events, keyed by repo path. A file's first `advance` carries the bytes an earlier run left in
 * `.incomplete`; `advance` goes negative when a server ignores a Range request and the file starts over.
 */
export interface DownloadReporter {
  start(files: {file: string; size: number}[]): void
  advance(file: string, bytes: number): void
  finish(file: string): void
  end(): void
}

interface PlannedFile {
  path: string
  size: number
  etag: string
  checksum?: BlobJob['checksum']
}

const BLOB_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/

/**
 * `hybridize download`: fetches `repo@revision` into the shared Hugging Face cache with the layout
 * huggingface_hub writes. The commit and the file list come from @huggingface/hub (modelInfo, listFiles); the
 * transfers are ours (see download-blob.ts). A blob is linked into snapshots/ only once verified, and refs/ is
 * written last, so an interrupted run never leaves a half file or a ref to a half snapshot.
 */
export async function downloadSnapshot(opts: DownloadOptions): Promise<DownloadResult> {
  const env = opts.env ?? process.env
  const cacheDir = opts.cacheDir ?? hubCacheDir(env)
  const revision = opts.revision ?? 'main'
  if (isOffline(env)) return fromCacheOffline(cacheDir, opts)
  try {
    return await fetchSnapshot(opts, env, cacheDir, revision)
  } catch (err) {
    if (opts.signal?.aborted) {
      throw new HybridizeError(
        `interrupted; partial downloads are kept in ${join(repoFolder(cacheDir, opts.repo), 'blobs')} and the next run resumes them`,
        {code: 'E_INTERRUPTED', exitCode: 130},
      )
    }
    throw err
  }
}

async function fetchSnapshot(opts: DownloadOptions, env: NodeJS.ProcessEnv, cacheDir: string, revision: string): Promise<DownloadResult> {
  const endpoint = hubEndpoint(env)
  const token = await resolveToken(opts.token, env)
  const ctx: HubContext = {endpoint, repo: opts.repo, revision, authenticated: Boolean(token)}
  const fetch = hubFetch(ctx, {token, signal: opts.signal, readTimeout: readTimeout(opts.readTimeout, env)})
  const {commit, files} = await chooseFiles(opts, revision, endpoint, fetch)

  const storage = repoFolder(cacheDir, opts.repo)
  const snapshot = join(storage, 'snapshots', commit)
  const blobs = join(storage, 'blobs')
  const pending = await linkWhatIsCached(files, blobs, snapshot)
  const byBlob = groupBy(pending, (f) => f.etag)
  const kept = await Promise.all([...byBlob.keys()].map((etag) => partialSize(join(blobs, etag))))
  const remaining = [...byBlob.values()].reduce((sum, [f], i) => sum + Math.max(0, f.size - kept[i]), 0)
  await assertFreeSpace(blobs, remaining)
  await mkdir(blobs, {recursive: true})

  const progress = opts.progress ?? (opts.quiet ? undefined : createDownloadProgress(process.stderr, env))
  progress?.start([...byBlob.values()].map(([f]) => ({file: f.path, size: f.size})))
  try {
    await inParallel([...byBlob.entries()], opts.maxWorkers ?? 8, opts.signal, async ([etag, group], signal) => {
      const [first] = group
      const url = `${endpoint}/${opts.repo}/resolve/${commit}/${first.path.split('/').map(encodeURIComponent).join('/')}`
      const job: BlobJob = {file: first.path, url, size: first.size, blobPath: join(blobs, etag), checksum: first.checksum}
      await downloadBlob(job, {fetch, signal, onBytes: (n) => progress?.advance(first.path, n)})
      for (const f of group) await linkBlob(join(blobs, etag), join(snapshot, f.path))
      progress?.finish(first.path)
    })
  } finally {
    progress?.end()
  }
  await mkdir(snapshot, {recursive: true})
  if (revision !== commit) await writeRef(storage, revision, commit)
  return {path: snapshot, commit, files: files.map((f) => f.path), bytes: files.reduce((sum, f) => sum + f.size, 0)}
}

/** The commit `revision` points at and the selected files in it, each checked for a safe name. */
async function chooseFiles(
  opts: DownloadOptions, revision: string, endpoint: string, fetch: typeof globalThis.fetch,
): Promise<{commit: string; files: PlannedFile[]}> {
  const {sha: commit} = await modelInfo({name: opts.repo, revision, additionalFields: ['sha'], hubUrl: endpoint, fetch})
  if (typeof commit !== 'string' || !COMMIT_HASH.test(commit)) {
    throw new HybridizeError(`the hub gave no commit for ${opts.repo}@${revision}`, {code: 'E_HUB_HTTP'})
  }
  const entries: ListFileEntry[] = []
  for await (const entry of listFiles({repo: {type: 'model', name: opts.repo}, revision: commit, recursive: true, hubUrl: endpoint, fetch})) {
    if (entry.type !== 'file') continue
    assertSafeRepoPath(entry.path)
    entries.push(entry)
  }
  const chosen = new Set(selectFiles(entries.map((e) => e.path), opts))
  if (chosen.size === 0) {
    const globs = opts.include?.length ? `--include ${opts.include.join(' ')}` : 'the default selection (config, tokenizer, safetensors)'
    throw new HybridizeError(`no file in ${opts.repo}@${revision} matches ${globs}`, {code: 'E_NO_FILES'})
  }
  return {commit, files: entries.filter((e) => chosen.has(e.path)).map(plan)}
}

/** Blob name and checksum as huggingface_hub derives them: LFS files by sha256, plain git files by blob sha1. */
function plan(entry: ListFileEntry): PlannedFile {
  if (entry.lfs) {
    const etag = entry.lfs.oid
    return checkedBlobId({path: entry.path, size: entry.lfs.size, etag, checksum: {kind: 'sha256', hex: etag}})
  }
  const etag = entry.oid ?? entry.xetHash ?? ''
  return checkedBlobId({path: entry.path, size: entry.size, etag, checksum: entry.oid ? {kind: 'git-sha1', hex: etag} : undefined})
}

// The etag becomes a file name under blobs/: only a hex digest may.
function checkedBlobId(file: PlannedFile): PlannedFile {
  if (!BLOB_ID.test(file.etag)) {
    throw new HybridizeError(`refusing unsafe blob id from the hub for ${file.path}: ${JSON.stringify(file.etag)}`, {code: 'E_UNSAFE_PATH'})
  }
  return file
}

/** Links files whose blob is already complete; returns the ones still to fetch. */
async function linkWhatIsCached(files: PlannedFile[], blobs: string, snapshot: string): Promise<PlannedFile[]> {
  const pending: PlannedFile[] = []
  for (const f of files) {
    const pointer = join(snapshot, f.path)
    if (await exists(pointer)) continue
    if (await exists(join(blobs, f.etag))) await linkBlob(join(blobs, f.etag), pointer)
    else pending.push(f)
  }
  return pending
}

/** snapshots/<commit>/<path> -> ../../blobs/<etag>, one more `../` per folder level, as huggingface_hub links. */
async function linkBlob(blob: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), {recursive: true})
  await rm(pointer, {force: true})
  await symlink(relative(dirname(pointer), blob), pointer)
}

async function writeRef(storage: string, revision: string, commit: string): Promise<void> {
  const ref = join(storage, 'refs', revision)
  await mkdir(dirname(ref), {recursive: true})
  await writeFile(ref, commit)
}

/** HF_HUB_OFFLINE: the cached snapshot as it is, or an error naming the cache. */
async function fromCacheOffline(cacheDir: string, ref: RepoRef): Promise<DownloadResult> {
  const cached = await cachedSnapshot(cacheDir, ref)
  const name = ref.revision ? `${ref.repo}@${ref.revision}` : ref.repo
  if (!cached) {
    throw new HybridizeError(`HF_HUB_OFFLINE is set and ${name} is not in the Hugging Face cache (${cacheDir}); unset it to download`, {code: 'E_OFFLINE'})
  }
  const files = await filesUnder(cached.path)
  const sizes = await Promise.all(files.map(async (f) => (await stat(join(cached.path, f))).size))
  return {...cached, files, bytes: sizes.reduce((a, b) => a + b, 0)}
}

async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(join(dir, prefix), {withFileTypes: true})) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name
    if (entry.isDirectory()) out.push(...await filesUnder(dir, path))
    else out.push(path)
  }
  return out.sort()
}

/** Runs `work` over `items` with at most `workers` at a time; the first failure aborts the others and is rethrown once they stop. */
async function inParallel<T>(
  items: T[], workers: number, outer: AbortSignal | undefined, work: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const inner = new AbortController()
  const signal = outer ? AbortSignal.any([outer, inner.signal]) : inner.signal
  let next = 0
  let failure: unknown
  const worker = async () => {
    while (!signal.aborted && next < items.length) {
      try {
        await work(items[next++], signal)
      } catch (err) {
        failure ??= err
        inner.abort()
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(workers, items.length)}, worker))
  if (failure) throw failure
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, [T, ...T[]]> {
  const groups = new Map<string, [T, ...T[]]>()
  for (const item of items) {
    const group = groups.get(key(item))
    if (group) group.push(item)
    else groups.set(key(item), [item])
  }
  return groups
}

async function partialSize(blob: string): Promise<number> {
  return (await stat(`${blob}.incomplete`).catch(() => undefined))?.size ?? 0
}

/** Follows links: a pointer into a missing blob does not count. */
async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false)
}

