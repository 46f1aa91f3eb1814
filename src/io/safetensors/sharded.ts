import {FormatError} from '../../errors.js'
import {isPlainObject} from './header.js'

/**
 * File names and the index format of a checkpoint folder, as transformers writes them:
 * either one `model.safetensors`, or shards `model-00001-of-00003.safetensors` plus
 * `model.safetensors.index.json` = `{"metadata": {"total_size": N}, "weight_map": {name: shard}}`.
 */

export const SINGLE_FILE = 'model.safetensors'
export const INDEX_FILE = 'model.safetensors.index.json'
export const SHARD_PATTERN = /^model-\d{5,}-of-\d{5,}\.safetensors$/

/** `model-00002-of-00005.safetensors` for shard 2 of 5 (1-based). */
export function shardFileName(shard: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, '0')
  return `model-${pad(shard)}-of-${pad(count)}.safetensors`
}

export interface ShardIndex {
  metadata: Record<string, unknown>
  /** Tensor name -> shard file name (a bare name in the index's folder). */
  weightMap: Map<string, string>
}

/** Parse and validate an index file's text; shard names must stay inside the index's folder. */
export function parseIndex(text: string, file: string): ShardIndex {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new FormatError(`${file}: not valid JSON (${(err as Error).message})`, {cause: err})
  }
  if (!isPlainObject(json)) throw new FormatError(`${file}: not a JSON object`)
  const metadata = json.metadata ?? {}
  if (!isPlainObject(metadata)) throw new FormatError(`${file}: "metadata" is not a JSON object`)
  if (!isPlainObject(json.weight_map)) throw new FormatError(`${file}: "weight_map" is missing or not a JSON object`)
  const weightMap = new Map<string, string>()
  for (const [name, shard] of Object.entries(json.weight_map)) {
    if (typeof shard !== 'string' || !isBareFileName(shard)) {
      throw new FormatError(`${file}: tensor "${name}" maps to ${JSON.stringify(shard)}, which is not a file name in this folder`)
    }
    weightMap.set(name, shard)
  }
  return {metadata, weightMap}
}

/** The index text transformers writes: keys sorted, two-space indent, trailing newline. */
export function encodeIndex(totalSize: number, weightMap: ReadonlyMap<string, string>): string {
  const sorted = Object.fromEntries([...weightMap].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  return JSON.stringify({metadata: {total_size: totalSize}, weight_map: sorted}, null, 2) + '\n'
}

function isBareFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name)
}
