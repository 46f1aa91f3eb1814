import {createHash} from 'node:crypto'
import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {identifyWhile, weightsSha256} from '../../src/hub/model-identity.js'

async function folderWithShards(): Promise<{folder: string; expected: string}> {
  const folder = await mkdtemp(join(tmpdir(), 'identity-'))
  // Two shards over the worker's 8 MiB piece, written out of name order, and a file that is not weights.
  const second = Buffer.alloc(9 << 20, 7)
  const first = Buffer.from('first shard')
  await writeFile(join(folder, 'model-00002-of-00002.safetensors'), second)
  await writeFile(join(folder, 'model-00001-of-00002.safetensors'), first)
  await writeFile(join(folder, 'config.json'), '{}')
  return {folder, expected: createHash('sha256').update(first).update(second).digest('hex')}
}

describe('weightsSha256', () => {
  it('hashes the .safetensors files in name order, on its worker thread', async () => {
    const {folder, expected} = await folderWithShards()
    expect(await weightsSha256(folder)).toBe(expected)
  })

  it('stops when aborted, with the abort reason', async () => {
    const {folder} = await folderWithShards()
    const stop = new AbortController()
    const digest = weightsSha256(folder, stop.signal)
    stop.abort(new Error('not needed'))
    await expect(digest).rejects.toThrow('not needed')
  })

  it('names a folder that is not there', async () => {
    await expect(weightsSha256('/nonexistent/model')).rejects.toThrow('/nonexistent/model')
  })
})

describe('identifyWhile', () => {
  it('returns the identity and what the load returned', async () => {
    const {folder, expected} = await folderWithShards()
    const [identity, loaded] = await identifyWhile('some/model', folder, async () => 42)
    expect(identity).toEqual({id: 'some/model', revision: null, weightsSha256: expected})
    expect(loaded).toBe(42)
  })

  it('throws the load\'s error, not the stopped digest\'s', async () => {
    const {folder} = await folderWithShards()
    await expect(identifyWhile('m', folder, async () => { throw new Error('bad weights') })).rejects.toThrow('bad weights')
  })
})
