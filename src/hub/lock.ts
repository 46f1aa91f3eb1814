import {mkdir, writeFile} from 'node:fs/promises'
import {dirname} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import lockfile from 'proper-lockfile'

/** A holder refreshes its lock every 2 s; one not refreshed for 10 s belongs to a process that died and is taken over. */
const STALE_MS = 10_000
const UPDATE_MS = 2_000
const POLL_MS = 100

/**
 * Runs `work` while holding the lock named `path`, waiting (until `signal` aborts; `onWait` is told once) while
 * another hybridize process or another download in this one holds it.
 *
 * `path` is where huggingface_hub keeps its lock, e.g. `<cache>/.locks/models--org--name/<etag>.lock`, created as
 * huggingface_hub's filelock creates it and, like it, left in place. Python locks that file with flock(), which Node
 * cannot call, so proper-lockfile's atomic mkdir lock sits beside it (`<path>.lock/`): hybridize processes exclude
 * each other, and a Python process never finds a folder where it expects its file. Python and hybridize do not
 * exclude each other, and need not: huggingface_hub 1.x downloads into a temporary file of its own
 * (`<etag>.<random>.incomplete`) and renames it, as download-blob.ts renames a verified `<etag>.incomplete`, so the
 * worst case is one file fetched twice.
 */
export async function withLock<T>(
  path: string, signal: AbortSignal | undefined, work: () => Promise<T>, onWait?: () => void,
): Promise<T> {
  await mkdir(dirname(path), {recursive: true})
  await writeFile(path, '', {flag: 'a'})
  let release: () => Promise<void>
  for (let waited = false; ; waited = true) {
    try {
      release = await lockfile.lock(path, {stale: STALE_MS, update: UPDATE_MS, realpath: false, onCompromised: () => undefined})
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err
      if (!waited) onWait?.()
      await sleep(POLL_MS, undefined, {signal})
    }
  }
  try {
    return await work()
  } finally {
    await release().catch(() => undefined)
  }
}
