import {copyFile, mkdir, readlink, rename, rm, symlink as fsSymlink} from 'node:fs/promises'
import {basename, dirname, join, relative, resolve} from 'node:path'

/** Errors of a file system or OS that cannot make symbolic links (Windows without developer mode, FAT, some mounts). */
const NO_SYMLINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])

export interface Linker {
  /**
   * Puts `blob` at `pointer` (snapshots/<commit>/<path>) as huggingface_hub's _create_symlink does: a relative
   * symbolic link, or where links cannot be made (or HF_HUB_DISABLE_SYMLINKS is set) the file itself, moved when
   * the blob was just downloaded (`fresh`) and copied otherwise. A copy lands under a temporary name and is renamed,
   * so a killed run never leaves half a file in the snapshot.
   */
  place(blob: string, pointer: string, fresh: boolean): Promise<void>
}

export function createLinker(opts: {
  disabled: boolean
  symlink?: (target: string, path: string) => Promise<void>
  /** Told once, the first time links fail. */
  onFallback: () => void
}): Linker {
  const symlink = opts.symlink ?? ((target: string, path: string) => fsSymlink(target, path))
  let links = !opts.disabled
  return {
    async place(blob, pointer, fresh) {
      await mkdir(dirname(pointer), {recursive: true})
      if (links) {
        try {
          await linkTo(blob, pointer, symlink)
          return
        } catch (err) {
          if (!NO_SYMLINKS.has((err as NodeJS.ErrnoException).code ?? '')) throw err
          if (links) opts.onFallback()
          links = false
        }
      }
      await rm(pointer, {force: true})
      if (fresh) return rename(blob, pointer)
      const temporary = join(dirname(blob), `${basename(blob)}.${process.pid}.copy.incomplete`)
      await copyFile(blob, temporary)
      await rename(temporary, pointer)
    },
  }
}

/** One `../` per folder level, as huggingface_hub links; a link another download made meanwhile is kept. */
async function linkTo(blob: string, pointer: string, symlink: (target: string, path: string) => Promise<void>): Promise<void> {
  const target = relative(dirname(pointer), blob)
  await rm(pointer, {force: true})
  try {
    await symlink(target, pointer)
  } catch (err) {
    const existing = (err as NodeJS.ErrnoException).code === 'EEXIST' ? await readlink(pointer).catch(() => undefined) : undefined
    if (existing === undefined || resolve(dirname(pointer), existing) !== resolve(blob)) throw err
  }
}
