import {open, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {FormatError} from '../../src/errors.js'
import {MAX_HEADER_BYTES, openCheckpoint, SafetensorsFile, writeCheckpoint} from '../../src/io/safetensors/index.js'
import {rawSafetensors, removeTempDirs, tempDir} from './helpers.js'

afterAll(removeTempDirs)

const f32 = (shape: number[], begin: number, end: number) => ({dtype: 'F32', shape, data_offsets: [begin, end]})

/** Opening `bytes` as a safetensors file fails with a FormatError naming the file and matching `message`. */
async function expectRefused(bytes: Uint8Array, message: RegExp): Promise<void> {
  const file = path.join(await tempDir(), 'bad.safetensors')
  await writeFile(file, bytes)
  const err = await SafetensorsFile.open(file).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(FormatError)
  expect((err as Error).message).toContain(`${file}: `)
  expect((err as Error).message).toMatch(message)
}

describe('refusing malformed safetensors files', () => {
  it('a file shorter than 8 bytes', async () => {
    await expectRefused(Uint8Array.of(1, 2, 3), /3 bytes, shorter than the 8-byte header length/)
  })

  it('a header length larger than the file', async () => {
    const bytes = rawSafetensors({}, 0)
    new DataView(bytes.buffer).setBigUint64(0, 1n << 60n, true)
    await expectRefused(bytes, /header length 1152921504606846976 is larger than the file \(10 bytes\)/)
  })

  it('a header length above the cap, refused before the header is read', async () => {
    const file = path.join(await tempDir(), 'huge-header.safetensors')
    const handle = await open(file, 'w')
    const prefix = new Uint8Array(8)
    new DataView(prefix.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true)
    await handle.write(prefix, 0, 8, 0)
    await handle.truncate(MAX_HEADER_BYTES + 1024) // sparse: nothing of it is on disk
    await handle.close()
    await expect(SafetensorsFile.open(file)).rejects.toThrow(FormatError)
    await expect(SafetensorsFile.open(file)).rejects.toThrow(`${file}: header length ${MAX_HEADER_BYTES + 1} is above the ${MAX_HEADER_BYTES}-byte limit`)
  })

  it('a header that is not JSON', async () => {
    await expectRefused(rawSafetensors('{"a": ', 0), /header is not valid JSON/)
  })

  it('a header that is not UTF-8', async () => {
    await expectRefused(rawSafetensors(Uint8Array.of(0x7b, 0xff, 0x7d), 0), /header is not valid UTF-8/)
  })

  it('a header that is JSON but not an object', async () => {
    await expectRefused(rawSafetensors('[1, 2]', 0), /header is not a JSON object/)
    await expectRefused(rawSafetensors('null', 0), /header is not a JSON object/)
  })

  it('an unknown dtype', async () => {
    await expectRefused(rawSafetensors({w: {dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1]}}, 1), /tensor "w" has unsupported dtype "F8_E4M3"/)
  })

  it('shape entries that are not non-negative integers', async () => {
    for (const shape of [[-1], [1.5], ['2'], 'x']) {
      await expectRefused(rawSafetensors({w: {dtype: 'F32', shape, data_offsets: [0, 4]}}, 4), /tensor "w" has shape .* entries must be non-negative integers/)
    }
  })

  it('malformed data_offsets', async () => {
    await expectRefused(rawSafetensors({w: {dtype: 'F32', shape: [1], data_offsets: [4, 0]}}, 4), /tensor "w" has data_offsets \[4,0\]/)
    await expectRefused(rawSafetensors({w: {dtype: 'F32', shape: [1]}}, 4), /tensor "w" has data_offsets undefined/)
  })

  it('a byte length that does not match the shape and dtype', async () => {
    await expectRefused(rawSafetensors({w: f32([2, 3], 0, 20)}, 20), /tensor "w" spans 20 bytes, but F32 \[2,3\] needs 24/)
  })

  it('offsets outside the data section', async () => {
    await expectRefused(rawSafetensors({w: f32([2], 8, 16)}, 12), /tensor "w" has data_offsets \[8, 16\] outside the data section \(12 bytes\)/)
  })

  it('overlapping tensors', async () => {
    await expectRefused(rawSafetensors({a: f32([2], 0, 8), b: f32([2], 4, 12)}, 12), /tensor "b" at bytes \[4, 12\) overlaps tensor "a"/)
  })

  it('a hole between tensors', async () => {
    await expectRefused(rawSafetensors({a: f32([1], 0, 4), b: f32([1], 8, 12)}, 12), /data section has a hole at bytes \[4, 8\) before tensor "b"/)
  })

  it('bytes after the last tensor', async () => {
    await expectRefused(rawSafetensors({a: f32([1], 0, 4)}, 10), /data section has 6 bytes after the last tensor/)
  })

  it('__metadata__ with a value that is not a string', async () => {
    await expectRefused(rawSafetensors({__metadata__: {format: 'pt', step: 3}}, 0), /__metadata__ value "step" is not a string/)
  })

  it('accepts a minimal valid file (so the cases above fail for their own reason)', async () => {
    const file = path.join(await tempDir(), 'ok.safetensors')
    await writeFile(file, rawSafetensors({a: f32([1], 0, 4), e: f32([0], 4, 4), __metadata__: {k: 'v'}}, Uint8Array.of(0, 0, 0x80, 0x3f)))
    const st = await SafetensorsFile.open(file)
    expect(await st.readF32('a')).toEqual(Float32Array.of(1))
    expect(st.metadata).toEqual({k: 'v'})
    await expect(st.read('nope')).rejects.toThrow(`${file}: no tensor named "nope"`)
    await st.close()
  })
})

describe('refusing malformed sharded checkpoints', () => {
  async function sharded(): Promise<string> {
    const dir = await tempDir()
    await writeCheckpoint(dir, [
      {name: 'a', dtype: 'F32', shape: [4], data: new Float32Array(4)},
      {name: 'b', dtype: 'F32', shape: [4], data: new Float32Array(4)},
    ], {maxShardBytes: 16})
    return dir
  }

  it('a shard file the index refers to is missing', async () => {
    const dir = await sharded()
    await writeFile(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({
      metadata: {total_size: 32},
      weight_map: {a: 'model-00001-of-00002.safetensors', b: 'model-00003-of-00003.safetensors'},
    }))
    const err = await openCheckpoint(dir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FormatError)
    expect((err as Error).message).toBe(
      `${path.join(dir, 'model.safetensors.index.json')}: shard "model-00003-of-00003.safetensors" is missing (it should hold "b")`,
    )
  })

  it('a tensor listed in the index is absent from its shard', async () => {
    const dir = await sharded()
    await writeFile(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({
      metadata: {total_size: 32},
      weight_map: {a: 'model-00001-of-00002.safetensors', b: 'model-00001-of-00002.safetensors'},
    }))
    await expect(openCheckpoint(dir)).rejects.toThrow(FormatError)
    await expect(openCheckpoint(dir)).rejects.toThrow(/index\.json: tensor "b" is listed in shard "model-00001-of-00002.safetensors", but that file has no such tensor/)
  })

  it('an index that is not JSON, lacks weight_map, or points outside its folder', async () => {
    const dir = await sharded()
    const index = path.join(dir, 'model.safetensors.index.json')
    await writeFile(index, '{"weight_map": ')
    await expect(openCheckpoint(dir)).rejects.toThrow(/index\.json: not valid JSON/)
    await writeFile(index, '{"metadata": {}}')
    await expect(openCheckpoint(dir)).rejects.toThrow(/index\.json: "weight_map" is missing or not a JSON object/)
    await writeFile(index, JSON.stringify({weight_map: {a: '../model-00001-of-00002.safetensors'}}))
    await expect(openCheckpoint(dir)).rejects.toThrow(/tensor "a" maps to "..\/model-00001-of-00002.safetensors", which is not a file name in this folder/)
  })

  it('a corrupt shard is reported with the shard path', async () => {
    const dir = await sharded()
    const shard = path.join(dir, 'model-00002-of-00002.safetensors')
    await writeFile(shard, Uint8Array.of(1))
    await expect(openCheckpoint(dir)).rejects.toThrow(`${shard}: not a safetensors file (1 bytes`)
  })

  it('a folder with no weights, and a path that does not exist', async () => {
    const dir = await tempDir()
    await expect(openCheckpoint(dir)).rejects.toThrow(`${dir}: no model.safetensors or model.safetensors.index.json in this folder`)
    await expect(openCheckpoint(path.join(dir, 'nope'))).rejects.toThrow(FormatError)
  })
})
