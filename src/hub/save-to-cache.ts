import {mkdir, rename, stat, writeFile} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'
import {assertFreeSpace} from './disk.js'
import {downloadBlob} from './download-blob.js'
import {inParallel} from './in-parallel.js'
import {CACHEDIR_TAG} from './local-dir.js'
import type {Linker} from './link.js'
import {withLock} from './lock.js'
import {resolveUrl, type PlannedFile, type Transfer} from './transfer.js'

/**
 * Saves the files of `t` into the hub cache with the layout huggingface_hub writes:
 *
 *   <cache>/CACHEDIR.TAG
 *   <cache>/.locks/models--org--name/<etag>.lock     held while a blob is fetched or linked (lock.ts)
 *   <cache>/models--org--name/blobs/<etag>
 *   <cache>/models--org--name/snapshots/<commit>/<path>  -> ../../blobs/<etag> (or the file, linker.ts)
 *   <cache>/models--org--name/refs/<revision>
 *
 * A blob is linked only once verified and refs/ is written last, so an interrupted run never leaves a half file or
 * a ref to a half snapshot. Each blob is fetched and linked under its lock, so a blob another process fetched
 * meanwhile is linked, not fetched again.
 */
export async function saveToCache(t: Transfer, cacheDir: string, storage: string, revision: string, linker: Linker): Promise<void> {
  const snapshot = join(storage, 'snapshots', t.commit)
  const blobs = join(storage, 'blobs')
  const byBlob = groupBy(await missing(t.files, snapshot), (f) => f.etag)
  // Blobs already complete (fetched by another revision or tool) are only linked.
  const toFetch = (await Promise.all([...byBlob.values()].map(async (group) => (await exists(join(blobs, group[0].etag)) ? [] : [group[0]])))).flat()
  const kept = await Promise.all(toFetch.map((f) => partialSize(join(blobs, f.etag))))
  await assertFreeSpace(blobs, toFetch.reduce((sum, f, i) => sum + Math.max(0, f.size - kept[i]), 0))
  await mkdir(blobs, {recursive: true})
  await writeFile(join(cacheDir, 'CACHEDIR.TAG'), CACHEDIR_TAG, {flag: 'wx'}).catch(() => undefined)

  t.progress?.start(toFetch.map((f) => ({file: f.path, size: f.size})))
  try {
    await inParallel([...byBlob.entries()], t.workers, t.signal, async ([etag, group], signal) => {
      const [first] = group
      const blob = join(blobs, etag)
      const lock = join(cacheDir, '.locks', basename(storage), `${etag}.lock`)
      await withLock(lock, signal, async () => {
        const unlinked = await missing(group, snapshot)
        if (unlinked.length === 0) return
        const fresh = !(await exists(blob))
        if (fresh) {
          const job = {file: first.path, url: resolveUrl(t, first.path), size: first.size, destination: blob, partial: `${blob}.incomplete`, checksum: first.checksum}
          await downloadBlob(job, {fetch: t.fetch, signal, onBytes: (n) => t.progress?.advance(first.path, n)})
        }
        // Where links cannot be made, a new blob moves to its last pointer and is copied to the others.
        for (const [i, f] of unlinked.entries()) await linker.place(blob, join(snapshot, f.path), fresh && i === unlinked.length - 1)
      }, () => t.onWait?.(first.path, lock))
      t.progress?.finish(first.path)
    })
  } finally {
    t.progress?.end()
  }
  await mkdir(snapshot, {recursive: true})
  if (revision !== t.commit) await writeRef(storage, revision, t.commit)
}

async function missing(files: PlannedFile[], snapshot: string): Promise<PlannedFile[]> {
  const present = await Promise.all(files.map((f) => exists(join(snapshot, f.path))))
  return files.filter((_, i) => !present[i])
}

/** Replaced in one rename, so a concurrent reader never sees an empty ref. */
async function writeRef(storage: string, revision: string, commit: string): Promise<void> {
  const ref = join(storage, 'refs', revision)
  await mkdir(dirname(ref), {recursive: true})
  const temporary = `${ref}.${process.pid}.tmp`
  await writeFile(temporary, commit)
  await rename(temporary, ref)
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
