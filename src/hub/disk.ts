import {statfs} from 'node:fs/promises'
import {dirname} from 'node:path'
import {HybridizeError} from '../errors.js'
import {formatBytes} from './format.js'

/** Fails before the first byte is fetched when the disk holding `dir` cannot take `needed` more bytes. */
export async function assertFreeSpace(dir: string, needed: number): Promise<void> {
  if (needed <= 0) return
  const where = await nearestExisting(dir)
  const fs = await statfs(where)
  const free = fs.bavail * fs.bsize
  if (needed > free) {
    throw new HybridizeError(
      `not enough disk space in ${where}: the download needs ${formatBytes(needed)} and ${formatBytes(free)} is free`,
      {code: 'E_DISK_SPACE'},
    )
  }
}

/** Writing hit ENOSPC: keep the partial file so the next run resumes once space is freed. */
export function diskFullError(path: string, cause: unknown): HybridizeError {
  return new HybridizeError(`the disk is full while writing ${path}; free some space and run again to resume`, {code: 'E_DISK_FULL', cause})
}

async function nearestExisting(dir: string): Promise<string> {
  for (let d = dir; ; d = dirname(d)) {
    try {
      await statfs(d)
      return d
    } catch (err) {
      if (dirname(d) === d) throw err
    }
  }
}
