import {readFile, stat} from 'node:fs/promises'
import path from 'node:path'
import {FormatError} from '../../errors.js'
import type {TensorEntry} from './header.js'
import {SafetensorsFile, type TensorData} from './reader.js'
import {INDEX_FILE, parseIndex, SINGLE_FILE} from './sharded.js'

/**
 * The tensors of a model, whether they live in one safetensors file or in shards listed by an
 * index. All headers are read and checked at open; tensor bytes only on request.
 */
export class Checkpoint {
  private constructor(
    /** The file or folder it was opened from. */
    readonly path: string,
    private readonly files: readonly SafetensorsFile[],
    private readonly owners: ReadonlyMap<string, SafetensorsFile>,
  ) {}

  /** Over one file; `file` must already be open and is closed with the checkpoint. */
  static fromFile(file: SafetensorsFile): Checkpoint {
    return new Checkpoint(file.path, [file], new Map([...file.tensors.keys()].map((name) => [name, file])))
  }

  /** Over the shards of `indexPath`, each checked to hold the tensors the index gives it. */
  static async fromIndex(indexPath: string): Promise<Checkpoint> {
    const {weightMap} = parseIndex(await readFile(indexPath, 'utf8'), indexPath)
    const folder = path.dirname(indexPath)
    const shardNames = [...new Set(weightMap.values())]
    for (const shard of shardNames) {
      if (!(await isFile(path.join(folder, shard)))) {
        const held = [...weightMap].filter(([, s]) => s === shard).map(([name]) => name)
        const others = held.length > 1 ? ` and ${held.length - 1} more` : ''
        throw new FormatError(`${indexPath}: shard "${shard}" is missing (it should hold "${held[0]}"${others})`)
      }
    }
    const opened = await Promise.allSettled(shardNames.map((shard) => SafetensorsFile.open(path.join(folder, shard))))
    const files = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    const failed = opened.find((r) => r.status === 'rejected')
    if (failed) {
      await Promise.all(files.map((f) => f.close()))
      throw failed.reason
    }
    const byShard = new Map(shardNames.map((shard, i) => [shard, files[i]]))
    const owners = new Map<string, SafetensorsFile>()
    for (const [name, shard] of weightMap) {
      const file = byShard.get(shard)!
      if (!file.has(name)) {
        await Promise.all(files.map((f) => f.close()))
        throw new FormatError(`${indexPath}: tensor "${name}" is listed in shard "${shard}", but that file has no such tensor`)
      }
      owners.set(name, file)
    }
    return new Checkpoint(indexPath, files, owners)
  }

  /** `__metadata__` of the (first) file, e.g. `{format: 'pt'}`. */
  get metadata(): Readonly<Record<string, string>> {
    return this.files[0]?.metadata ?? {}
  }

  /** Tensor names, in file order (index order when sharded). */
  names(): string[] {
    return [...this.owners.keys()]
  }

  has(name: string): boolean {
    return this.owners.has(name)
  }

  /** dtype, shape and byte length of `name`; a FormatError if the checkpoint has no such tensor. */
  info(name: string): TensorEntry {
    return this.owner(name).entry(name)
  }

  shape(name: string): readonly number[] {
    return this.info(name).shape
  }

  async read(name: string): Promise<TensorData> {
    return this.owner(name).read(name)
  }

  async readF32(name: string): Promise<Float32Array> {
    return this.owner(name).readF32(name)
  }

  async readF32Scanned(name: string): Promise<{data: Float32Array; allFinite?: boolean}> {
    return this.owner(name).readF32Scanned(name)
  }

  async readBytes(name: string): Promise<Uint8Array> {
    return this.owner(name).readBytes(name)
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()))
  }

  private owner(name: string): SafetensorsFile {
    const file = this.owners.get(name)
    if (!file) throw new FormatError(`${this.path}: no tensor named "${name}" (it has ${this.owners.size} tensors)`)
    return file
  }
}

/**
 * Open a checkpoint from a folder (`model.safetensors`, else `model.safetensors.index.json`: the
 * order transformers looks in), an index file, or a single `.safetensors` file.
 */
export async function openCheckpoint(location: string): Promise<Checkpoint> {
  let isFolder: boolean
  try {
    isFolder = (await stat(location)).isDirectory()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    throw new FormatError(`${location}: no such file or folder`, {cause: err})
  }
  if (!isFolder) {
    if (location.endsWith('.json')) return Checkpoint.fromIndex(location)
    return Checkpoint.fromFile(await SafetensorsFile.open(location))
  }
  const single = path.join(location, SINGLE_FILE)
  if (await isFile(single)) return Checkpoint.fromFile(await SafetensorsFile.open(single))
  const index = path.join(location, INDEX_FILE)
  if (await isFile(index)) return Checkpoint.fromIndex(index)
  throw new FormatError(`${location}: no ${SINGLE_FILE} or ${INDEX_FILE} in this folder`)
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile()
  } catch {
    return false
  }
}
