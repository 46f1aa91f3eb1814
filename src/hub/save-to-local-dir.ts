import {mkdir, stat} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {assertFreeSpace} from './disk.js'
import {downloadBlob} from './download-blob.js'
import {inParallel} from './in-parallel.js'
import {assertReplaceable, copyIntoPlace, localPaths, localState, prepareLocalDir, writeMetadata} from './local-dir.js'
import {withLock} from './lock.js'
import {resolveUrl, type Transfer} from './transfer.js'

/**
 * Saves the files of `t` as real files in `dir` (`--local-dir`), as huggingface_hub's hf_hub_download does with
 * `local_dir`: a file already there with the right etag is kept, one the cache holds for this commit is copied
 * from `cachedSnapshot`, the rest are fetched (resumably, under the file's lock); each gets its metadata record.
 * Files in the way that neither tool wrote stop the download before anything is fetched, unless `force`.
 */
export async function saveToLocalDir(t: Transfer, dir: string, cachedSnapshot: string, force: boolean): Promise<void> {
  const placed = t.files.map((f) => ({file: f, paths: localPaths(dir, f)}))
  const states = await Promise.all(placed.map(async ({file, paths}) => ({path: file.path, state: await localState(paths, file)})))
  assertReplaceable(dir, states, force)
  const todo = placed.filter((_, i) => states[i].state !== 'current')
  await assertFreeSpace(dir, todo.reduce((sum, {file}) => sum + file.size, 0))
  await prepareLocalDir(dir)
  for (const [i, {file, paths}] of placed.entries()) {
    if (states[i].state === 'current') await writeMetadata(paths, t.commit, file.etag)
  }

  t.progress?.start(todo.map(({file}) => ({file: file.path, size: file.size})))
  try {
    await inParallel(todo, t.workers, t.signal, async ({file, paths}, signal) => {
      await withLock(paths.lock, signal, async () => {
        // Another download may have placed it while this one waited for the lock.
        if (await localState(paths, file) !== 'current') {
          const cached = join(cachedSnapshot, file.path)
          if (await stat(cached).then(() => true, () => false)) await copyIntoPlace(cached, paths)
          else {
            await mkdir(dirname(paths.file), {recursive: true})
            const job = {file: file.path, url: resolveUrl(t, file.path), size: file.size, destination: paths.file, partial: paths.partial, checksum: file.checksum}
            await downloadBlob(job, {fetch: t.fetch, signal, onBytes: (n) => t.progress?.advance(file.path, n)})
          }
        }
        await writeMetadata(paths, t.commit, file.etag)
      }, () => t.onWait?.(file.path, paths.lock))
      t.progress?.finish(file.path)
    })
  } finally {
    t.progress?.end()
  }
}
