import {mkdir, readdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {HybridizeError} from '../../src/errors.js'
import {checkFileDestination, checkFolderDestination, withAtomicFile, withAtomicFolder, writeFileAtomic} from '../../src/io/atomic.js'
import {removeTempDirs, tempDir} from './helpers.js'

afterAll(removeTempDirs)

describe('withAtomicFile', () => {
  it('shows the file only once complete, under a temporary name in the same folder meanwhile', async () => {
    const dir = await tempDir()
    const dest = path.join(dir, 'out.bin')
    await withAtomicFile(dest, async (handle) => {
      await handle.write('part one ')
      const names = await readdir(dir)
      expect(names).toEqual([`out.bin.tmp-${process.pid}-${names[0].split('-').pop()}`])
      await handle.write('part two')
    })
    expect(await readdir(dir)).toEqual(['out.bin'])
    expect(await readFile(dest, 'utf8')).toBe('part one part two')
  })

  it('removes the temporary file and keeps the old destination when writing throws', async () => {
    const dir = await tempDir()
    const dest = path.join(dir, 'out.txt')
    await writeFileAtomic(dest, 'old')
    await expect(withAtomicFile(dest, async (handle) => {
      await handle.write('new, half')
      throw new Error('disk on fire')
    })).rejects.toThrow('disk on fire')
    expect(await readdir(dir)).toEqual(['out.txt'])
    expect(await readFile(dest, 'utf8')).toBe('old')
  })
})

describe('writeFileAtomic', () => {
  it('creates missing parent folders', async () => {
    const dest = path.join(await tempDir(), 'runs', 'nested', 'heads.json')
    await writeFileAtomic(dest, '{}')
    expect(await readFile(dest, 'utf8')).toBe('{}')
  })
})

describe('withAtomicFolder', () => {
  it('builds in <dest>.tmp-<pid> and renames it into place', async () => {
    const root = await tempDir()
    const dest = path.join(root, 'model-out')
    const result = await withAtomicFolder(dest, async (tmp) => {
      expect(tmp).toBe(`${dest}.tmp-${process.pid}`)
      await writeFile(path.join(tmp, 'config.json'), '{}')
      expect(await readdir(root)).toEqual([`model-out.tmp-${process.pid}`])
      return 7
    })
    expect(result).toBe(7)
    expect(await readdir(root)).toEqual(['model-out'])
    expect(await readdir(dest)).toEqual(['config.json'])
  })

  it('removes the temporary folder when building fails', async () => {
    const root = await tempDir()
    await expect(withAtomicFolder(path.join(root, 'out'), async (tmp) => {
      await writeFile(path.join(tmp, 'partial'), 'x')
      throw new Error('failed midway')
    })).rejects.toThrow('failed midway')
    expect(await readdir(root)).toEqual([])
  })

  it('refuses an existing destination before building, unless overwriting, which replaces it whole', async () => {
    const root = await tempDir()
    const dest = path.join(root, 'out')
    await mkdir(dest)
    await writeFile(path.join(dest, 'old.txt'), 'old')
    let built = false
    const err = await withAtomicFolder(dest, async () => { built = true }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(HybridizeError)
    expect((err as HybridizeError).code).toBe('E_EXISTS')
    expect((err as Error).message).toContain(`output folder ${dest} already exists`)
    expect(built).toBe(false)

    await withAtomicFolder(dest, (tmp) => writeFile(path.join(tmp, 'new.txt'), 'new'), {overwrite: true})
    expect(await readdir(root)).toEqual(['out'])
    expect(await readdir(dest)).toEqual(['new.txt'])
  })
})

describe('checking a destination before the work', () => {
  it('accepts new and existing paths, and refuses a folder given as a file or a file in the way of a folder', async () => {
    const root = await tempDir()
    await writeFile(path.join(root, 'plain.txt'), 'x')
    await expect(checkFileDestination(path.join(root, 'new', 'deeper', 'heads.json'))).resolves.toBeUndefined()
    await expect(checkFileDestination(path.join(root, 'plain.txt'))).resolves.toBeUndefined()
    await expect(checkFolderDestination(path.join(root, 'results'))).resolves.toBeUndefined()
    await expect(checkFileDestination(root)).rejects.toThrow(/is a folder/)
    await expect(checkFileDestination(path.join(root, 'plain.txt', 'heads.json'))).rejects.toThrow(HybridizeError)
    await expect(checkFolderDestination(path.join(root, 'plain.txt', 'results'))).rejects.toThrow(/a file is in the way of the output folder .*plain\.txt$/)
  })
})
