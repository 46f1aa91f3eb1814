import {mkdir, stat, writeFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {isSafeRepoPath} from './select.js'

/**
 * huggingface_hub's record of files a commit lacks: an empty `<repo folder>/.no_exist/<commit>/<path>`, written when
 * the hub says a file is missing and read (by transformers, and here) before asking the hub again. A commit never
 * changes, so the record stays true.
 */
export async function knownMissing(storage: string, commit: string, paths: readonly string[]): Promise<string[]> {
  const known = await Promise.all(paths.map(async (path) =>
    isSafeRepoPath(path) && (await stat(join(storage, '.no_exist', commit, path)).catch(() => undefined))?.isFile()))
  return paths.filter((_, i) => known[i])
}

export async function recordMissing(storage: string, commit: string, paths: readonly string[]): Promise<void> {
  for (const path of paths.filter(isSafeRepoPath)) {
    const marker = join(storage, '.no_exist', commit, path)
    await mkdir(dirname(marker), {recursive: true})
    await writeFile(marker, '', {flag: 'a'})
  }
}
