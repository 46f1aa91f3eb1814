import {open, type FileHandle} from 'node:fs/promises'
import {FormatError} from '../../errors.js'
import {
  bf16BitsToF32Bits, decode, f16BitsToF32Bits, IntRangeError, type Dtype, type TensorArray,
} from './dtypes.js'
import {parseHeader, parseHeaderLength, type TensorEntry} from './header.js'

/*
 * Why our own reader: the npm package `safetensors` is a read-only 0.0.1 toy (browser-oriented,
 * fetches the whole file into memory, no validation, no dtype decoding, no writer), and
 * @huggingface/hub only parses headers of remote files over HTTP. Checkpoints are many GB, so we
 * read the header once and then each tensor with one positional read when it is asked for.
 */

export interface TensorData {
  dtype: Dtype
  shape: readonly number[]
  /** See dtypes.ts for the array type of each dtype. */
  data: TensorArray
}

/** One read call is capped below Node's 2 GiB limit; bigger tensors take several. */
const MAX_READ = 1 << 30

/** A safetensors file opened lazily: the header is parsed at open, tensor bytes read on request. */
export class SafetensorsFile {
  private closed = false

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    /** Tensor name -> dtype, shape, byte length and offset in the data section, in file order. */
    readonly tensors: ReadonlyMap<string, TensorEntry>,
    /** `__metadata__` (string values only; `{}` when absent). */
    readonly metadata: Readonly<Record<string, string>>,
    private readonly dataStart: number,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    const handle = await open(path, 'r')
    try {
      const {size} = await handle.stat()
      const prefix = new Uint8Array(Math.min(8, size))
      await readFully(handle, prefix, 0, path)
      const headerLength = parseHeaderLength(prefix, size, path)
      const headerBytes = new Uint8Array(headerLength)
      await readFully(handle, headerBytes, 8, path)
      const dataStart = 8 + headerLength
      const header = parseHeader(headerBytes, size - dataStart, path)
      return new SafetensorsFile(path, handle, header.tensors, header.metadata, dataStart)
    } catch (err) {
      await handle.close()
      throw err
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name)
  }

  /** The entry for `name`; a FormatError naming the file if there is none. */
  entry(name: string): TensorEntry {
    const entry = this.tensors.get(name)
    if (!entry) throw new FormatError(`${this.path}: no tensor named "${name}"`)
    return entry
  }

  /** The stored bytes of `name`, untouched (e.g. to copy a BF16 tensor without converting it). */
  async readBytes(name: string): Promise<Uint8Array> {
    const entry = this.entry(name)
    const bytes = new Uint8Array(entry.byteLength)
    await this.readAt(entry, bytes)
    return bytes
  }

  /** `name` decoded to its natural typed array (see dtypes.ts); F16/BF16 widened to f32. */
  async read(name: string): Promise<TensorData> {
    const {dtype, shape} = this.entry(name)
    if (dtype === 'F16' || dtype === 'BF16') return {dtype, shape, data: await this.readF32(name)}
    const bytes = await this.readBytes(name)
    try {
      return {dtype, shape, data: decode(dtype, bytes)}
    } catch (err) {
      if (err instanceof IntRangeError) throw new FormatError(`${this.path}: tensor "${name}" (${dtype}): ${err.message}`)
      throw err
    }
  }

  /** `name` as float32 values, whatever its dtype. Shape: `this.tensors.get(name).shape`. */
  async readF32(name: string): Promise<Float32Array> {
    return (await this.readF32Scanned(name)).data
  }

  /**
   * `readF32`, and for F16 and BF16 whether every value is finite, seen while widening
   * (`allFinite` is undefined for the other dtypes, whose values were not looked at).
   */
  async readF32Scanned(name: string): Promise<{data: Float32Array; allFinite?: boolean}> {
    const entry = this.entry(name)
    if (entry.dtype === 'F16' || entry.dtype === 'BF16') {
      // Read the 16-bit values into the upper half of the output and widen in place: one allocation.
      const n = entry.byteLength / 2
      const out = new Float32Array(n)
      const src = new Uint16Array(out.buffer, 2 * n, n)
      await this.readAt(entry, new Uint8Array(out.buffer, 2 * n, 2 * n))
      const widen = entry.dtype === 'F16' ? f16BitsToF32Bits : bf16BitsToF32Bits
      return {data: out, allFinite: widen(src, new Uint32Array(out.buffer))}
    }
    const {data} = await this.read(name)
    return {data: data instanceof Float32Array ? data : Float32Array.from(data)}
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.handle.close()
  }

  private async readAt(entry: TensorEntry, target: Uint8Array): Promise<void> {
    if (this.closed) throw new Error(`${this.path} was read after close()`)
    await readFully(this.handle, target, this.dataStart + entry.offset, this.path)
  }
}

/** Fill `target` from `position`; the file ending early (changed since it was opened) is a FormatError. */
async function readFully(handle: FileHandle, target: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0
  while (done < target.byteLength) {
    const length = Math.min(MAX_READ, target.byteLength - done)
    const {bytesRead} = await handle.read(target, done, length, position + done)
    if (bytesRead === 0) {
      throw new FormatError(`${path}: file ended at byte ${position + done}, expected ${target.byteLength - done} more (was it truncated?)`)
    }
    done += bytesRead
  }
}
