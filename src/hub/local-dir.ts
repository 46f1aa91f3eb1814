import {createHash} from 'node:crypto'
import {copyFile, mkdir, readFile, rename, stat, writeFile} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'
import {HybridizeError} from '../errors.js'
import {fileMatches, type BlobJob} from './download-blob.js'

/**
 * `--local-dir`, as huggingface_hub's _local_folder.py lays it out: the repo's files as real files in the folder,
 * and beside them what tells the next run (ours or Python's) which commit and etag each file holds:
 *
 *   <dir>/<path>
 *   <dir>/.cache/huggingface/.gitignore                          `*`
 *   <dir>/.cache/huggingface/CACHEDIR.TAG
 *   <dir>/.cache/huggingface/download/<path>.metadata            `<commit>\n<etag>\n<unix time>\n`
 *   <dir>/.cache/huggingface/download/<path>.lock                huggingface_hub's lock for that file
 *   <dir>/.cache/huggingface/download/<hash>.<etag>.incomplete   bytes of an unfinished download
 */
export interface LocalPaths {
  file: string
  metadata: string
  lock: string
  partial: string
}

export interface LocalFile {
  path: string
  size: number
  etag: string
  checksum?: BlobJob['checksum']
}

/**
 * What is at a file's place in the folder: `current` (these bytes, recorded or checked), `ours` (an older version
 * that hybridize or huggingface_hub wrote and nobody changed since: replaceable), `absent`, or `foreign` (anything
 * else, which is replaced only with --force).
 */
export type LocalState = 'current' | 'ours' | 'absent' | 'foreign'

export const CACHEDIR_TAG = 'Signature: 8a477f597d28d172789f06886806bc55\n'
  + '# This file is a cache directory tag created by huggingface_hub.\n'
  + '# For information about cache directory tags, see:\n'
  + '#\thttps://bford.info/cachedir/\n'

export function localPaths(dir: string, file: LocalFile): LocalPaths {
  const metadata = join(dir, '.cache', 'huggingface', 'download', `${file.path}.metadata`)
  return {
    file: join(dir, file.path),
    metadata,
    // Python's Path.with_suffix('.lock') on `<name>.metadata`.
    lock: `${metadata.slice(0, -'.metadata'.length)}.lock`,
    partial: join(dirname(metadata), `${shortHash(basename(metadata))}.${file.etag}.incomplete`),
  }
}

/** `.cache/huggingface/` with its `.gitignore` and CACHEDIR.TAG, each written only when absent. */
export async function prepareLocalDir(dir: string): Promise<void> {
  const home = join(dir, '.cache', 'huggingface')
  await mkdir(home, {recursive: true})
  await writeFile(join(home, '.gitignore'), '*', {flag: 'wx'}).catch(ignoreExisting)
  await writeFile(join(home, 'CACHEDIR.TAG'), CACHEDIR_TAG, {flag: 'wx'}).catch(ignoreExisting)
}

export async function localState(paths: LocalPaths, file: LocalFile): Promise<LocalState> {
  const found = await stat(paths.file).catch(() => undefined)
  if (!found) return 'absent'
  if (!found.isFile()) return 'foreign'
  const recorded = await readMetadata(paths.metadata)
  // huggingface_hub trusts a record only if the file was not modified after it (1 s of mtime imprecision allowed).
  const untouched = recorded !== undefined && found.mtimeMs / 1000 - 1 <= recorded.timestamp
  if (untouched && recorded.etag === file.etag) return 'current'
  if (await fileMatches(paths.file, file)) return 'current'
  return untouched ? 'ours' : 'foreign'
}

/** Refuses, before anything is fetched, to replace files of the folder that hybridize did not write. */
export function assertReplaceable(dir: string, states: {path: string; state: LocalState}[], force: boolean): void {
  const foreign = states.filter((s) => s.state === 'foreign').map((s) => s.path)
  if (foreign.length === 0 || force) return
  const named = foreign.length > 3 ? `${foreign.slice(0, 3).join(', ')} and ${foreign.length - 3} more` : foreign.join(', ')
  throw new HybridizeError(
    `--local-dir ${dir} already holds ${named}, not written by hybridize or huggingface_hub (or changed since); pass --force to overwrite`,
    {code: 'E_EXISTS'},
  )
}

/** A file the cache already holds, copied under a temporary name and renamed into the folder. */
export async function copyIntoPlace(source: string, paths: LocalPaths): Promise<void> {
  await mkdir(dirname(paths.partial), {recursive: true})
  const temporary = `${paths.partial}.${process.pid}.copy`
  await copyFile(source, temporary)
  await mkdir(dirname(paths.file), {recursive: true})
  await rename(temporary, paths.file)
}

/** Written after the file is in place, so that its mtime is not later than the recorded time. */
export async function writeMetadata(paths: LocalPaths, commit: string, etag: string): Promise<void> {
  await mkdir(dirname(paths.metadata), {recursive: true})
  const temporary = `${paths.metadata}.${process.pid}.tmp`
  await writeFile(temporary, `${commit}\n${etag}\n${Date.now() / 1000}\n`)
  await rename(temporary, paths.metadata)
}

async function readMetadata(path: string): Promise<{commit: string; etag: string; timestamp: number} | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined)
  const [commit, etag, time] = text?.split('\n').map((line) => line.trim()) ?? []
  const timestamp = Number(time)
  return commit && etag && time && Number.isFinite(timestamp) ? {commit, etag, timestamp} : undefined
}

/** huggingface_hub's _short_hash: URL-safe base64 of the SHA-1, padding kept. */
function shortHash(name: string): string {
  return createHash('sha1').update(name).digest('base64').replace(/\+/g, '-').replace(/\//g, '_')
}

function ignoreExisting(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EEXIST') throw err
}
