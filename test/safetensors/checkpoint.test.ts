import {readdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {
  openCheckpoint, shardFileName, writeCheckpoint, writeSafetensors, type TensorArray, type TensorToWrite,
} from '../../src/io/safetensors/index.js'
import {removeTempDirs, tempDir} from './helpers.js'

afterAll(removeTempDirs)

/** Tensors of 40, 40, 100, 8 and 40 bytes. */
function model(): TensorToWrite[] {
  const ramp = (n: number, k: number) => Float32Array.from({length: n}, (_, i) => i + k)
  return [
    {name: 'embed', dtype: 'F32', shape: [2, 5], data: ramp(10, 0)},
    {name: 'layers.0.w', dtype: 'BF16', shape: [20], data: ramp(20, 100)},
    {name: 'layers.0.big', dtype: 'F32', shape: [25], data: ramp(25, 200)},
    {name: 'layers.1.ids', dtype: 'I64', shape: [1], data: Int32Array.of(-5)},
    {name: 'norm', dtype: 'F16', shape: [20], data: ramp(20, -10)},
  ]
}

describe('writeCheckpoint', () => {
  it('shards by size with transformers names and index, and reads back through openCheckpoint', async () => {
    const dir = await tempDir()
    const written = await writeCheckpoint(dir, model(), {maxShardBytes: 90, metadata: {tool: 'hybridize'}})
    const shards = [1, 2, 3].map((i) => shardFileName(i, 3))
    expect(shards[0]).toBe('model-00001-of-00003.safetensors')
    expect(written).toEqual({files: [...shards, 'model.safetensors.index.json'], totalSize: 228})
    expect((await readdir(dir)).sort()).toEqual([...shards, 'model.safetensors.index.json'].sort())

    const index = await readFile(path.join(dir, 'model.safetensors.index.json'), 'utf8')
    expect(index).toBe(JSON.stringify({
      metadata: {total_size: 228},
      weight_map: {
        embed: shards[0], 'layers.0.big': shards[1], 'layers.0.w': shards[0],
        'layers.1.ids': shards[2], norm: shards[2],
      },
    }, null, 2) + '\n')

    const ckpt = await openCheckpoint(dir)
    try {
      expect(ckpt.metadata).toEqual({format: 'pt', tool: 'hybridize'})
      expect(ckpt.names().sort()).toEqual(model().map((t) => t.name).sort())
      for (const t of model()) {
        expect(ckpt.shape(t.name)).toEqual(t.shape)
        expect((await ckpt.read(t.name)).data).toEqual(t.data)
      }
      expect(ckpt.info('layers.0.w')).toMatchObject({dtype: 'BF16', byteLength: 40})
      await expect(ckpt.readF32('missing')).rejects.toThrow(/index\.json: no tensor named "missing" \(it has 5 tensors\)/)
    } finally {
      await ckpt.close()
    }
  })

  it('writes one model.safetensors when everything fits, and removes the shards of an earlier write', async () => {
    const dir = await tempDir()
    await writeCheckpoint(dir, model(), {maxShardBytes: 90})
    await writeFile(path.join(dir, 'config.json'), '{}')
    const written = await writeCheckpoint(dir, model())
    expect(written.files).toEqual(['model.safetensors'])
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors'])
    const ckpt = await openCheckpoint(dir)
    expect(await ckpt.readF32('norm')).toEqual(Float32Array.from({length: 20}, (_, i) => i - 10))
    await ckpt.close()
  })

  it('produces tensors from functions one at a time, only while writing', async () => {
    const dir = await tempDir()
    const calls: string[] = []
    const lazy = model().map((t) => ({...t, data: () => (calls.push(t.name), t.data as TensorArray)}))
    const pending = writeCheckpoint(dir, lazy, {maxShardBytes: 90})
    expect(calls).toEqual([])
    await pending
    expect(calls).toEqual(['embed', 'layers.0.w', 'layers.0.big', 'layers.1.ids', 'norm'])
  })

  it('leaves nothing behind when a tensor fails midway, neither shards nor temporary files', async () => {
    const dir = await tempDir()
    const failing = model().map((t) => t.name !== 'norm' ? t : {
      ...t, data: () => { throw new Error('producer failed') },
    })
    await expect(writeCheckpoint(dir, failing, {maxShardBytes: 90})).rejects.toThrow('producer failed')
    expect(await readdir(dir)).toEqual([])
  })

  it('a failed single-file write leaves the earlier file intact and no temporary file', async () => {
    const dir = await tempDir()
    const file = path.join(dir, 'out.safetensors')
    await writeSafetensors(file, model().slice(0, 1))
    const before = await readFile(file)
    const failing = [...model().slice(0, 2), {name: 'z', dtype: 'F32', shape: [3], data: () => Promise.reject(new Error('boom'))}] as TensorToWrite[]
    await expect(writeSafetensors(file, failing)).rejects.toThrow('boom')
    expect(await readdir(dir)).toEqual(['out.safetensors'])
    expect(await readFile(file)).toEqual(before)

    const fresh = path.join(dir, 'fresh.safetensors')
    await expect(writeSafetensors(fresh, failing)).rejects.toThrow('boom')
    expect(await readdir(dir)).toEqual(['out.safetensors'])
  })

  it('puts a tensor larger than the shard limit in a shard of its own', async () => {
    const dir = await tempDir()
    const written = await writeCheckpoint(dir, model(), {maxShardBytes: 50})
    const index = JSON.parse(await readFile(path.join(dir, 'model.safetensors.index.json'), 'utf8'))
    expect(written.files).toHaveLength(5) // [embed], [w], [big], [ids, norm] + index
    expect(index.weight_map['layers.0.big']).toBe('model-00003-of-00004.safetensors')
    expect(index.weight_map.norm).toBe('model-00004-of-00004.safetensors')
  })
})
