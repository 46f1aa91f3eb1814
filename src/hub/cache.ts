import {readFile, stat} from 'node:fs/promises'
import {join, resolve} from 'node:path'
import {HybridizeError} from '../errors.js'
import {hubCacheDir} from './home.js'
import {COMMIT_HASH, parseRepoRef, type RepoRef} from './repo-ref.js'

// Where the cache is lives in home.ts, which token.ts reads without the cache's (lazy) download.
export {hfHome, hubCacheDir} from './home.js'

/**
 * The Hugging Face cache that Python's `huggingface_hub` and `@huggingface/hub` share:
 *
 *   <hub cache>/models--<org>--<name>/
 *     blobs/<etag>                       file bytes, named by LFS sha256 or git blob sha1
 *     refs/<revision>                    the commit a branch or tag resolved to
 *     snapshots/<commit>/<path>          relative symlink to ../../blobs/<etag>
 */

/** `models--org--name` inside the cache. */
export function repoFolder(cacheDir: string, repo: string): string {
  return join(cacheDir, `models--${repo.split('/').join('--')}`)
}

/** The snapshot folder a revision points at, if the cache has it; the revision defaults to `main`. */
export async function cachedSnapshot(cacheDir: string, ref: RepoRef): Promise<{path: string; commit: string} | undefined> {
  const storage = repoFolder(cacheDir, ref.repo)
  const revision = ref.revision ?? 'main'
  const commit = COMMIT_HASH.test(revision) ? revision : await readRef(join(storage, 'refs', revision))
  if (!commit || !COMMIT_HASH.test(commit)) return undefined
  const path = join(storage, 'snapshots', commit)
  return (await isFolder(path)) ? {path, commit} : undefined
}

/**
 * A model folder for `ref`: an existing folder as given, else `org/name[@revision]` looked up in the hub cache
 * (downloaded first when `download` is set).
 */
export async function resolveModel(
  ref: string,
  opts: {download?: boolean; env?: NodeJS.ProcessEnv; quiet?: boolean} = {},
): Promise<string> {
  const env = opts.env ?? process.env
  const asPath = await stat(ref).catch(() => undefined)
  if (asPath?.isDirectory()) return resolve(ref)
  if (asPath) throw new HybridizeError(`not a model folder: ${ref} is a file`, {code: 'E_NO_MODEL'})
  const parsed = parseRepoRef(ref)
  if (!parsed) throw new HybridizeError(`no such model folder: ${ref} (nor a hub id org/name[@revision])`, {code: 'E_NO_MODEL'})

  const cacheDir = hubCacheDir(env)
  const cached = await cachedSnapshot(cacheDir, parsed)
  if (cached) return cached.path
  if (opts.download) {
    // Loaded on demand: commands that only read the cache never load the hub client.
    const {downloadSnapshot} = await import('./download.js')
    return (await downloadSnapshot({...parsed, env, cacheDir, quiet: opts.quiet})).path
  }
  // `ref` reads as a path and as a hub id alike (`models/tiny`, `gpt2`): a typo in either, so name both.
  throw new HybridizeError(
    `no such model folder: ${ref}, and no model ${parsed.repo} in the Hugging Face cache (${cacheDir}); `
      + `if it is a hub id, run \`hybridize download ${ref}\``,
    {code: 'E_NOT_CACHED'},
  )
}

async function readRef(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch {
    return undefined
  }
}

async function isFolder(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false
}
