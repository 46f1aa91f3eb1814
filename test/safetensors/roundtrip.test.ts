import {readdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {FormatError, ShapeError} from '../../src/errors.js'
import {SafetensorsFile, writeSafetensors, type TensorToWrite} from '../../src/io/safetensors/index.js'
import {rawSafetensors, removeTempDirs, tempDir} from './helpers.js'

afterAll(removeTempDirs)

/** One tensor of every dtype, with values its dtype holds exactly. */
const tensors: TensorToWrite[] = [
  {name: 'f32', dtype: 'F32', shape: [2, 3], data: Float32Array.of(1.5, -2, 0, 3.25, -0, 1e-30)},
  {name: 'f16', dtype: 'F16', shape: [4], data: Float32Array.of(1, -65504, 2 ** -24, Infinity)},
  {name: 'bf16', dtype: 'BF16', shape: [2, 2], data: Float32Array.of(1, -3.140625, 2 ** 100, -Infinity)},
  {name: 'f64', dtype: 'F64', shape: [2], data: Float64Array.of(Math.PI, -1e300)},
  {name: 'i64', dtype: 'I64', shape: [3], data: Int32Array.of(-2147483648, 0, 2147483647)},
  {name: 'u64', dtype: 'U64', shape: [2], data: Int32Array.of(0, 2147483647)},
  {name: 'i32', dtype: 'I32', shape: [3], data: Int32Array.of(-7, 0, 7)},
  {name: 'u32', dtype: 'U32', shape: [1], data: Uint32Array.of(4294967295)},
  {name: 'i16', dtype: 'I16', shape: [2], data: Int16Array.of(-32768, 32767)},
  {name: 'u16', dtype: 'U16', shape: [2], data: Uint16Array.of(0, 65535)},
  {name: 'i8', dtype: 'I8', shape: [2], data: Int8Array.of(-128, 127)},
  {name: 'u8', dtype: 'U8', shape: [3], data: Uint8Array.of(0, 128, 255)},
  {name: 'bool', dtype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1)},
  {name: 'scalar', dtype: 'F32', shape: [], data: Float32Array.of(42)},
  {name: 'empty', dtype: 'F32', shape: [0, 5], data: new Float32Array(0)},
]

describe('writeSafetensors + SafetensorsFile', () => {
  it('round-trips every dtype, scalars and empty tensors', async () => {
    const file = path.join(await tempDir(), 'all.safetensors')
    await writeSafetensors(file, tensors, {note: 'hello'})
    const st = await SafetensorsFile.open(file)
    try {
      expect(st.metadata).toEqual({format: 'pt', note: 'hello'})
      expect(new Set(st.tensors.keys())).toEqual(new Set(tensors.map((t) => t.name)))
      for (const t of tensors) {
        const got = await st.read(t.name)
        expect(got.dtype).toBe(t.dtype)
        expect(got.shape).toEqual(t.shape)
        expect(got.data).toEqual(t.data)
        expect(got.data.constructor).toBe(t.data.constructor)
      }
      expect(await st.readF32('i32')).toEqual(Float32Array.of(-7, 0, 7))
      expect(await st.readF32('f64')).toEqual(Float32Array.of(Math.PI, -Infinity))
    } finally {
      await st.close()
    }
  })

  it('aligns the data section, pads with spaces, and orders tensors by element size then name', async () => {
    const file = path.join(await tempDir(), 'all.safetensors')
    await writeSafetensors(file, tensors)
    const bytes = await readFile(file)
    const n = Number(bytes.readBigUInt64LE(0))
    expect((8 + n) % 8).toBe(0)
    const text = bytes.subarray(8, 8 + n).toString('utf8')
    expect(text.trimEnd().endsWith('}')).toBe(true)
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/)
    const header = JSON.parse(text) as Record<string, {data_offsets: [number, number]}>
    const byOffset = Object.keys(header).filter((k) => k !== '__metadata__')
      .sort((a, b) => header[a].data_offsets[0] - header[b].data_offsets[0] || a.localeCompare(b))
    expect(byOffset).toEqual(['f64', 'i64', 'u64', 'empty', 'f32', 'i32', 'scalar', 'u32', 'bf16', 'f16', 'i16', 'u16', 'bool', 'i8', 'u8'])
  })

  it('writes F16/BF16 from f32 with round-to-nearest-even, and reads the raw bytes untouched', async () => {
    const file = path.join(await tempDir(), 'half.safetensors')
    const values = Float32Array.of(1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 / 3, NaN)
    await writeSafetensors(file, [
      {name: 'h', dtype: 'F16', shape: [4], data: values},
      {name: 'b', dtype: 'BF16', shape: [4], data: values},
    ])
    const st = await SafetensorsFile.open(file)
    const h = new Uint16Array((await st.readBytes('h')).buffer)
    expect([...h.slice(0, 3)]).toEqual([0x3c00, 0x3c02, 0x3555])
    expect(h[3] & 0x7e00).toBe(0x7e00)
    const b = new Uint16Array((await st.readBytes('b')).buffer)
    expect([...b.slice(0, 3)]).toEqual([0x3f80, 0x3f80, 0x3eab])
    const f = await st.readF32('b')
    expect(f[3]).toBeNaN()
    expect(f[2]).toBe(0.333984375)
    await st.close()
  })

  it('copies raw bytes through unchanged (Uint8Array data for any dtype)', async () => {
    const dir = await tempDir()
    const raw = Uint8Array.of(0x80, 0x3f, 0x49, 0x40) // BF16 [1, 3.140625]
    await writeSafetensors(path.join(dir, 'a.safetensors'), [{name: 'x', dtype: 'BF16', shape: [2], data: raw}])
    const st = await SafetensorsFile.open(path.join(dir, 'a.safetensors'))
    expect(await st.readBytes('x')).toEqual(raw)
    expect(await st.readF32('x')).toEqual(Float32Array.of(1, 3.140625))
    await st.close()
  })

  it('reads an I64 tensor whose values do not fit in int32 as a FormatError naming it', async () => {
    const file = path.join(await tempDir(), 'ids.safetensors')
    const data = new Uint8Array(new BigInt64Array([1n, 1n << 40n]).buffer)
    await writeFile(file, rawSafetensors({ids: {dtype: 'I64', shape: [2], data_offsets: [0, 16]}}, data))
    const st = await SafetensorsFile.open(file)
    await expect(st.read('ids')).rejects.toThrow(FormatError)
    await expect(st.read('ids')).rejects.toThrow(/ids\.safetensors: tensor "ids" \(I64\): element 1 \(1099511627776\) is out of range for int32/)
    await st.close()
  })

  it('refuses data of the wrong type or length before creating the file', async () => {
    const dir = await tempDir()
    const file = path.join(dir, 'bad.safetensors')
    const write = (t: Partial<TensorToWrite>) =>
      writeSafetensors(file, [{name: 'w', dtype: 'F32', shape: [2], data: new Float32Array(2), ...t}])
    await expect(write({data: new Float32Array(3)})).rejects.toThrow(ShapeError)
    await expect(write({data: new Float32Array(3)})).rejects.toThrow(/tensor "w": F32 \[2\] needs a Float32Array of 2 values or 8 raw bytes, got a Float32Array of length 3/)
    await expect(write({dtype: 'I32', data: new Float32Array(2)})).rejects.toThrow(/needs a Int32Array/)
    await expect(write({shape: [-1]})).rejects.toThrow(/non-negative integers/)
    await expect(write({dtype: 'F8' as never})).rejects.toThrow(/unsupported dtype "F8"/)
    await expect(writeSafetensors(file, [tensors[0], tensors[0]])).rejects.toThrow(/given twice/)
    await expect(write({dtype: 'U64', data: Int32Array.of(1, -1)})).rejects.toThrow(/tensor "w": element 1 \(-1\) is out of range for U64/)
    expect(await readdir(dir)).toEqual([])
  })
})
