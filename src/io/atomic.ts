import {mkdir, open, rename, rm, stat, type FileHandle} from 'node:fs/promises'
import {dirname} from 'node:path'
import {HybridizeError} from '../errors.js'

/**
 * Outputs appear whole or not at all: everything is written under a temporary name beside its
 * destination (same folder, so same filesystem) and renamed into place only once complete. A
 * crash can leave a `*.tmp-<pid>*` behind, never a truncated file under the real name.
 */

let tempCounter = 0

/**
 * Write `dest` through `write(handle)` into a temporary file next to it, flush it to disk, then
 * rename it over `dest`. If `write` throws, the temporary file is removed and `dest` is untouched.
 * Missing parent folders are created, as users expect of `--out runs/x.json`.
 */
export async function withAtomicFile<T>(dest: string, write: (handle: FileHandle) => Promise<T>): Promise<T> {
  await mkdir(dirname(dest), {recursive: true})
  const tmp = `${dest}.tmp-${process.pid}-${tempCounter++}`
  const handle = await open(tmp, 'wx')
  try {
    const result = await write(handle)
    await handle.sync()
    await handle.close()
    await rename(tmp, dest)
    return result
  } catch (err) {
    await handle.close().catch(() => {})
    await rm(tmp, {force: true})
    throw err
  }
}

/**
 * Fails now, not after a long job, when `dest` cannot become a file: it is a folder, or a file
 * stands where one of its parent folders would go. Run before the work whose result `dest` holds.
 */
export async function checkFileDestination(dest: string): Promise<void> {
  if ((await kind(dest)) === 'folder') throw new HybridizeError(`output ${dest} is a folder; give a file name`, {code: 'E_EXISTS'})
  await checkFolderDestination(dirname(dest))
}

/** Fails now when `dest` cannot become (or already is) a folder: a file stands at it or at a parent. */
export async function checkFolderDestination(dest: string): Promise<void> {
  for (let dir = dest; ; dir = dirname(dir)) {
    const found = await kind(dir)
    if (found === 'file') throw new HybridizeError(`a file is in the way of the output folder ${dir}`, {code: 'E_EXISTS'})
    if (found === 'folder' || dirname(dir) === dir) return
  }
}

async function kind(path: string): Promise<'file' | 'folder' | undefined> {
  try {
    return (await stat(path)).isDirectory() ? 'folder' : 'file'
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw err
  }
}

export async function writeFileAtomic(dest: string, data: string | Uint8Array): Promise<void> {
  await withAtomicFile(dest, (handle) => handle.writeFile(data))
}

/**
 * Build a whole output folder at `<dest>.tmp-<pid>` through `build(tmpDir)`, then rename it to
 * `dest`. If `build` throws, the temporary folder is removed. An existing `dest` is an error
 * (checked before building, so a long job does not fail at the end) unless `overwrite`; then it is
 * replaced only after the new folder is complete.
 */
export async function withAtomicFolder<T>(
  dest: string,
  build: (tmpDir: string) => Promise<T>,
  options: {overwrite?: boolean} = {},
): Promise<T> {
  const overwrite = options.overwrite ?? false
  if (!overwrite) await refuseExisting(dest)
  const tmp = `${dest}.tmp-${process.pid}`
  await rm(tmp, {recursive: true, force: true})
  await mkdir(tmp, {recursive: true})
  try {
    const result = await build(tmp)
    if (!overwrite) await refuseExisting(dest)
    await replace(tmp, dest)
    return result
  } catch (err) {
    await rm(tmp, {recursive: true, force: true})
    throw err
  }
}

/** Rename `from` to `to`, moving an existing `to` aside first and deleting it once `from` is in place. */
async function replace(from: string, to: string): Promise<void> {
  if (!(await exists(to))) {
    await rename(from, to)
    return
  }
  const old = `${to}.old-${process.pid}`
  await rm(old, {recursive: true, force: true})
  await rename(to, old)
  try {
    await rename(from, to)
  } catch (err) {
    await rename(old, to)
    throw err
  }
  await rm(old, {recursive: true, force: true})
}

async function refuseExisting(dest: string): Promise<void> {
  if (await exists(dest)) {
    throw new HybridizeError(`output folder ${dest} already exists; choose another or allow overwriting it`, {code: 'E_EXISTS'})
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}
