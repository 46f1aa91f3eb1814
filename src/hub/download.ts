import {listFiles, modelInfo, type ListFileEntry} from '@huggingface/hub'
import {readdir, stat} from 'node:fs/promises'
import {join, resolve} from 'node:path'
import {HybridizeError} from '../errors.js'
import {cachedSnapshot, hubCacheDir, repoFolder} from './cache.js'
import {hubEndpoint, isOffline, isTruthy, readTimeout} from './endpoint.js'
import type {HubContext} from './errors.js'
import {hubFetch} from './hub-fetch.js'
import {createLinker} from './link.js'
import {knownMissing, recordMissing} from './no-exist.js'
import {createDownloadProgress} from './progress-bars.js'
import {COMMIT_HASH, type RepoRef} from './repo-ref.js'
import {saveToCache} from './save-to-cache.js'
import {saveToLocalDir} from './save-to-local-dir.js'
import {assertSafeRepoPath, isExactName, selectFiles} from './select.js'
import {resolveToken} from './token.js'
import type {DownloadReporter, PlannedFile, Transfer} from './transfer.js'

export type {DownloadReporter} from './transfer.js'

export interface DownloadOptions extends RepoRef {
  /**
   * File names or globs given after the repo id (`hf download org/name config.json "*.safetensors"`): exactly the
   * files they match, as huggingface_hub's allow_patterns; a plain name the repo lacks is an error.
   */
  files?: string[]
  /** Used only without `files`. */
  include?: string[]
  exclude?: string[]
  /** --token; else HF_TOKEN, else the token file. */
  token?: string
  cacheDir?: string
  /** --local-dir: real files in this folder plus huggingface_hub's `.cache/huggingface/` records, not the cache. */
  localDir?: string
  /** --force: replace files in `localDir` that neither hybridize nor huggingface_hub wrote. */
  force?: boolean
  env?: NodeJS.ProcessEnv
  maxWorkers?: number
  /** --timeout: seconds without data before a transfer is retried; default $HF_HUB_DOWNLOAD_TIMEOUT, else 10. */
  readTimeout?: string
  /** Aborting (Ctrl-C) stops every transfer, keeps the `.incomplete` files and throws exit code 130. */
  signal?: AbortSignal
  /** Progress bars on stderr; by default drawn only on a TTY and never when `quiet`. */
  progress?: DownloadReporter
  quiet?: boolean
  /** Status lines for the user (links falling back to copies, waiting on another download's lock); by default
   * printed on stderr unless `quiet`. */
  notify?: (message: string) => void
  /** Makes a symbolic link; tests replace it to act as a file system without links. */
  symlink?: (target: string, path: string) => Promise<void>
}

export interface DownloadResult {
  /** snapshots/<commit> (or the --local-dir folder): a model folder. */
  path: string
  commit: string
  /** Repo paths in the snapshot, as chosen by file arguments or --include/--exclude. */
  files: string[]
  /** Their total size. */
  bytes: number
}

const BLOB_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/

/**
 * `hybridize download`: fetches `repo@revision` into the shared Hugging Face cache (save-to-cache.ts) or into
 * --local-dir (save-to-local-dir.ts), as huggingface_hub does. The commit and the file list come from
 * @huggingface/hub (modelInfo, listFiles); the transfers are ours (download-blob.ts).
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
      const kept = opts.localDir ? join(resolve(opts.localDir), '.cache', 'huggingface', 'download') : join(repoFolder(cacheDir, opts.repo), 'blobs')
      throw new HybridizeError(`interrupted; partial downloads are kept in ${kept} and the next run resumes them`, {code: 'E_INTERRUPTED', exitCode: 130})
    }
    throw err
  }
}

async function fetchSnapshot(opts: DownloadOptions, env: NodeJS.ProcessEnv, cacheDir: string, revision: string): Promise<DownloadResult> {
  const storage = repoFolder(cacheDir, opts.repo)
  const named = (opts.files ?? []).filter(isExactName)
  // A commit never changes: a file recorded missing from it is refused before any request.
  if (COMMIT_HASH.test(revision)) await refuseKnownMissing(opts, storage, revision, named)

  const endpoint = hubEndpoint(env)
  const token = await resolveToken(opts.token, env)
  const ctx: HubContext = {endpoint, repo: opts.repo, revision, authenticated: Boolean(token)}
  const fetch = hubFetch(ctx, {token, signal: opts.signal, readTimeout: readTimeout(opts.readTimeout, env)})
  const commit = await resolveCommit(opts, revision, endpoint, fetch)
  if (commit !== revision) await refuseKnownMissing(opts, storage, commit, named)
  const files = await chooseFiles(opts, revision, commit, endpoint, fetch, storage)

  const notify = opts.notify ?? ((message: string) => opts.quiet || process.stderr.write(`${message}\n`))
  const transfer: Transfer = {
    repo: opts.repo, commit, files, fetch, endpoint, workers: opts.maxWorkers ?? 8, signal: opts.signal,
    progress: opts.progress ?? (opts.quiet ? undefined : createDownloadProgress(process.stderr, env)),
    onWait: (file, lock) => notify(`waiting for another download of ${file} to finish (lock ${lock})`),
  }
  let path: string
  if (opts.localDir) {
    path = resolve(opts.localDir)
    await saveToLocalDir(transfer, path, join(storage, 'snapshots', commit), opts.force ?? false)
  } else {
    path = join(storage, 'snapshots', commit)
    const linker = createLinker({
      disabled: isTruthy(env.HF_HUB_DISABLE_SYMLINKS),
      symlink: opts.symlink,
      onFallback: () => notify(`warning: symbolic links cannot be made in ${cacheDir}; files are copied into snapshots/ instead, which takes more disk space`),
    })
    await saveToCache(transfer, cacheDir, storage, revision, linker)
  }
  return {path, commit, files: files.map((f) => f.path), bytes: files.reduce((sum, f) => sum + f.size, 0)}
}

async function resolveCommit(opts: DownloadOptions, revision: string, endpoint: string, fetch: typeof globalThis.fetch): Promise<string> {
  const {sha: commit} = await modelInfo({name: opts.repo, revision, additionalFields: ['sha'], hubUrl: endpoint, fetch})
  if (typeof commit !== 'string' || !COMMIT_HASH.test(commit)) {
    throw new HybridizeError(`the hub gave no commit for ${opts.repo}@${revision}`, {code: 'E_HUB_HTTP'})
  }
  return commit
}

/** The selected files of `commit`, each checked for a safe name; named files it lacks are recorded in `.no_exist/`. */
async function chooseFiles(
  opts: DownloadOptions, revision: string, commit: string, endpoint: string, fetch: typeof globalThis.fetch, storage: string,
): Promise<PlannedFile[]> {
  const entries: ListFileEntry[] = []
  for await (const entry of listFiles({repo: {type: 'model', name: opts.repo}, revision: commit, recursive: true, hubUrl: endpoint, fetch})) {
    if (entry.type !== 'file') continue
    assertSafeRepoPath(entry.path)
    entries.push(entry)
  }
  const paths = new Set(entries.map((e) => e.path))
  const absent = (opts.files ?? []).filter((f) => isExactName(f) && !paths.has(f))
  if (absent.length > 0) {
    // The local-dir mode of huggingface_hub writes nothing into the cache; neither does ours.
    if (!opts.localDir) await recordMissing(storage, commit, absent)
    throw missingFiles(opts, revision, absent, false)
  }
  const chosen = new Set(opts.files?.length ? selectFiles([...paths], {include: opts.files}) : selectFiles([...paths], opts))
  if (chosen.size === 0) {
    const globs = opts.files?.length ? opts.files.join(' ') : opts.include?.length ? `--include ${opts.include.join(' ')}` : 'the default selection (config, tokenizer, safetensors)'
    throw new HybridizeError(`no file in ${opts.repo}@${revision} matches ${globs}`, {code: 'E_NO_FILES'})
  }
  return entries.filter((e) => chosen.has(e.path)).map(plan)
}

async function refuseKnownMissing(opts: DownloadOptions, storage: string, commit: string, named: string[]): Promise<void> {
  if (opts.localDir || named.length === 0) return
  const known = await knownMissing(storage, commit, named)
  if (known.length > 0) throw missingFiles(opts, commit, known, true)
}

function missingFiles(opts: DownloadOptions, revision: string, paths: string[], recorded: boolean): HybridizeError {
  const what = paths.length === 1 ? `file ${paths[0]}` : `files ${paths.join(', ')}`
  const source = recorded ? ' (as the cache recorded in .no_exist/)' : ''
  return new HybridizeError(`${what} not found in ${opts.repo}@${revision}${source}`, {code: 'E_FILE_NOT_FOUND'})
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

/** HF_HUB_OFFLINE: the cached snapshot as it is, or an error naming the cache. */
async function fromCacheOffline(cacheDir: string, opts: DownloadOptions): Promise<DownloadResult> {
  const cached = await cachedSnapshot(cacheDir, opts)
  const name = opts.revision ? `${opts.repo}@${opts.revision}` : opts.repo
  if (opts.localDir) {
    throw new HybridizeError(`HF_HUB_OFFLINE is set, and --local-dir needs the hub; unset it to download ${name}`, {code: 'E_OFFLINE'})
  }
  if (!cached) {
    throw new HybridizeError(`HF_HUB_OFFLINE is set and ${name} is not in the Hugging Face cache (${cacheDir}); unset it to download`, {code: 'E_OFFLINE'})
  }
  await refuseKnownMissing(opts, repoFolder(cacheDir, opts.repo), cached.commit, (opts.files ?? []).filter(isExactName))
  const all = await filesUnder(cached.path)
  const files = opts.files?.length ? selectFiles(all, {include: opts.files}) : all
  const absent = (opts.files ?? []).filter((f) => isExactName(f) && !files.includes(f))
  if (absent.length > 0) {
    throw new HybridizeError(`HF_HUB_OFFLINE is set and ${absent.join(', ')} of ${name} is not in the Hugging Face cache (${cacheDir}); unset it to download`, {code: 'E_OFFLINE'})
  }
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
