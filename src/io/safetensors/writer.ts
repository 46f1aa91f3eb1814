import {mkdir, readdir, rm} from 'node:fs/promises'
import type {FileHandle} from 'node:fs/promises'
import path from 'node:path'
import {HybridizeError, ShapeError} from '../../errors.js'
import {withAtomicFile, writeFileAtomic} from '../atomic.js'
import {arrayTypeFor, bytesPerElement, encode, IntRangeError, isDtype, type Dtype, type TensorArray} from './dtypes.js'
import {encodeHeader} from './header.js'
import {encodeIndex, INDEX_FILE, SHARD_PATTERN, shardFileName, SINGLE_FILE} from './sharded.js'

export interface TensorToWrite {
  name: string
  dtype: Dtype
  shape: readonly number[]
  /**
   * Either the array type `arrayTypeFor(dtype)` (Float32Array for F32, and for F16/BF16, which
   * are narrowed with round-to-nearest-even; Int32Array for I64/U64/I32; ...) or the stored bytes
   * as a Uint8Array. A function is called only when the tensor is written, so a checkpoint can
   * be produced tensor by tensor without holding all of it in memory.
   */
  data: TensorArray | (() => TensorArray | Promise<TensorArray>)
}

/** transformers refuses safetensors files whose `format` metadata is not one of its frameworks. */
const DEFAULT_METADATA = {format: 'pt'}

/** 5 GB, as transformers 4 and mergekit shard by default. */
export const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000

/**
 * Write one safetensors file: header padded to 8-byte alignment, tensors ordered by element size
 * (largest first, so every tensor is aligned to its element size) then by name, streamed one by
 * one into a temporary file that is renamed to `file` only when complete.
 * `metadata` gets `format: "pt"` unless it sets `format` itself.
 */
export async function writeSafetensors(
  file: string,
  tensors: readonly TensorToWrite[],
  metadata: Record<string, string> = {},
): Promise<void> {
  checkTensors(tensors, metadata)
  const ordered = [...tensors].sort(
    (a, b) => bytesPerElement(b.dtype) - bytesPerElement(a.dtype) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  )
  let offset = 0
  const placed = ordered.map((t) => {
    const byteLength = byteLengthOf(t)
    const entry = {...t, offset, byteLength}
    offset += byteLength
    return entry
  })
  const header = encodeHeader(placed, {...DEFAULT_METADATA, ...metadata})
  await withAtomicFile(file, async (handle) => {
    await writeAll(handle, header)
    for (const t of ordered) {
      const data = typeof t.data === 'function' ? await t.data() : t.data
      checkData(t, data)
      try {
        for (const chunk of encode(t.dtype, data)) await writeAll(handle, chunk)
      } catch (err) {
        if (err instanceof IntRangeError) throw new ShapeError(`tensor "${t.name}": ${err.message}`)
        throw err
      }
    }
  })
}

export interface WrittenCheckpoint {
  /** File names written in the folder, the index last when sharded. */
  files: string[]
  /** Sum of tensor byte lengths (the index's `total_size`). */
  totalSize: number
}

/**
 * Write a checkpoint folder the way transformers does: `model.safetensors` when everything fits
 * in `maxShardBytes`, else shards `model-0000i-of-0000N.safetensors` (filled in the given tensor
 * order; a tensor larger than the limit gets a shard of its own) plus `model.safetensors.index.json`.
 * Weight files of an earlier checkpoint in the folder that are not part of this one are removed
 * afterwards; if writing fails, the shards this call wrote are removed.
 */
export async function writeCheckpoint(
  folder: string,
  tensors: readonly TensorToWrite[],
  options: {maxShardBytes?: number; metadata?: Record<string, string>} = {},
): Promise<WrittenCheckpoint> {
  const maxShardBytes = options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES
  checkTensors(tensors, options.metadata ?? {})
  const shards = splitIntoShards(tensors, maxShardBytes)
  const names = shards.length <= 1 ? [SINGLE_FILE] : shards.map((_, i) => shardFileName(i + 1, shards.length))
  await mkdir(folder, {recursive: true})
  const written: string[] = []
  try {
    for (const [i, shard] of shards.entries()) {
      await writeSafetensors(path.join(folder, names[i]), shard, options.metadata)
      written.push(names[i])
    }
    if (shards.length > 1) {
      const weightMap = new Map(shards.flatMap((shard, i) => shard.map((t) => [t.name, names[i]] as const)))
      await writeFileAtomic(path.join(folder, INDEX_FILE), encodeIndex(totalSizeOf(tensors), weightMap))
      written.push(INDEX_FILE)
    }
  } catch (err) {
    await Promise.all(written.map((name) => rm(path.join(folder, name), {force: true})))
    throw err
  }
  await removeStaleWeights(folder, new Set(written))
  return {files: written, totalSize: totalSizeOf(tensors)}
}

function splitIntoShards(tensors: readonly TensorToWrite[], maxShardBytes: number): TensorToWrite[][] {
  if (!(maxShardBytes > 0)) throw new HybridizeError(`maxShardBytes must be positive, got ${maxShardBytes}`)
  const shards: TensorToWrite[][] = []
  let current: TensorToWrite[] = []
  let size = 0
  for (const t of tensors) {
    const bytes = byteLengthOf(t)
    if (current.length > 0 && size + bytes > maxShardBytes) {
      shards.push(current)
      current = []
      size = 0
    }
    current.push(t)
    size += bytes
  }
  if (current.length > 0 || shards.length === 0) shards.push(current)
  return shards
}

async function removeStaleWeights(folder: string, keep: ReadonlySet<string>): Promise<void> {
  const stale = (await readdir(folder)).filter(
    (name) => !keep.has(name) && (name === SINGLE_FILE || name === INDEX_FILE || SHARD_PATTERN.test(name)),
  )
  await Promise.all(stale.map((name) => rm(path.join(folder, name), {force: true})))
}

/** Names, dtypes, shapes and metadata, checked before anything is written. */
function checkTensors(tensors: readonly TensorToWrite[], metadata: Record<string, string>): void {
  const seen = new Set<string>()
  for (const t of tensors) {
    if (t.name === '__metadata__' || t.name === '') throw new HybridizeError(`"${t.name}" cannot be a tensor name`)
    if (seen.has(t.name)) throw new HybridizeError(`tensor "${t.name}" is given twice`)
    seen.add(t.name)
    if (!isDtype(t.dtype)) throw new ShapeError(`tensor "${t.name}": unsupported dtype ${JSON.stringify(t.dtype)}`)
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new ShapeError(`tensor "${t.name}": shape [${t.shape}] must hold non-negative integers`)
    }
    if (typeof t.data !== 'function') checkData(t, t.data)
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new HybridizeError(`metadata "${key}" must be a string`)
  }
}

function checkData(t: TensorToWrite, data: TensorArray): void {
  const numel = t.shape.reduce((a, b) => a * b, 1)
  const byteLength = byteLengthOf(t)
  const Expected = arrayTypeFor(t.dtype)
  const raw = data instanceof Uint8Array
  if (raw ? data.byteLength === byteLength : data instanceof Expected && data.length === numel) return
  const got = `${data?.constructor?.name ?? typeof data} of length ${data?.length}`
  throw new ShapeError(
    `tensor "${t.name}": ${t.dtype} [${t.shape}] needs a ${Expected.name} of ${numel} values or ${byteLength} raw bytes, got a ${got}`,
  )
}

function byteLengthOf(t: Pick<TensorToWrite, 'dtype' | 'shape'>): number {
  return t.shape.reduce((a, b) => a * b, 1) * bytesPerElement(t.dtype)
}

function totalSizeOf(tensors: readonly TensorToWrite[]): number {
  return tensors.reduce((sum, t) => sum + byteLengthOf(t), 0)
}

/** Node writes at most 2 GiB per call, and may write less than asked. */
async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0
  while (done < bytes.byteLength) {
    const {bytesWritten} = await handle.write(bytes, done, Math.min(1 << 30, bytes.byteLength - done))
    done += bytesWritten
  }
}
