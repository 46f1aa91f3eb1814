import {FormatError} from '../../errors.js'
import {bytesPerElement, DTYPES, isDtype, type Dtype} from './dtypes.js'

/**
 * The safetensors header: 8 bytes of little-endian u64 length N, then N bytes of UTF-8 JSON
 * `{"<name>": {"dtype", "shape", "data_offsets": [begin, end)}, "__metadata__": {string: string}}`,
 * right-padded with spaces. Offsets are relative to the data section that follows the header.
 * Files are untrusted: everything is checked here, before any tensor is read.
 */

/** Headers above this are refused before allocating (the reference implementation's cap). */
export const MAX_HEADER_BYTES = 100_000_000

export interface TensorInfo {
  dtype: Dtype
  shape: readonly number[]
  byteLength: number
}

/** A tensor's place in its file: `offset` is from the start of the data section. */
export interface TensorEntry extends TensorInfo {
  offset: number
}

export interface Header {
  /** In data-section order. */
  tensors: Map<string, TensorEntry>
  metadata: Record<string, string>
}

/** Header length from the first 8 bytes, checked against the file size and the cap. */
export function parseHeaderLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || prefix.byteLength < 8) {
    throw new FormatError(`${file}: not a safetensors file (${fileSize} bytes, shorter than the 8-byte header length)`)
  }
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true)
  if (length > BigInt(fileSize - 8)) {
    throw new FormatError(`${file}: header length ${length} is larger than the file (${fileSize} bytes); the file is truncated or not safetensors`)
  }
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new FormatError(`${file}: header length ${length} is above the ${MAX_HEADER_BYTES}-byte limit`)
  }
  return Number(length)
}

/** Parse and validate the JSON header; `dataLength` is the file size minus 8 minus the header. */
export function parseHeader(bytes: Uint8Array, dataLength: number, file: string): Header {
  let text: string
  try {
    text = new TextDecoder('utf-8', {fatal: true}).decode(bytes)
  } catch (err) {
    throw new FormatError(`${file}: header is not valid UTF-8`, {cause: err})
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new FormatError(`${file}: header is not valid JSON (${(err as Error).message})`, {cause: err})
  }
  if (!isPlainObject(json)) throw new FormatError(`${file}: header is not a JSON object`)

  const metadata = parseMetadata(json.__metadata__, file)
  const entries: [string, TensorEntry][] = []
  for (const [name, value] of Object.entries(json)) {
    if (name !== '__metadata__') entries.push([name, parseEntry(name, value, dataLength, file)])
  }
  entries.sort((a, b) => a[1].offset - b[1].offset || a[1].byteLength - b[1].byteLength)
  checkCoverage(entries, dataLength, file)
  return {tensors: new Map(entries), metadata}
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (value === undefined) return {}
  if (!isPlainObject(value)) throw new FormatError(`${file}: __metadata__ is not a JSON object`)
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new FormatError(`${file}: __metadata__ value "${key}" is not a string`)
  }
  return value as Record<string, string>
}

function parseEntry(name: string, value: unknown, dataLength: number, file: string): TensorEntry {
  const where = `${file}: tensor "${name}"`
  if (!isPlainObject(value)) throw new FormatError(`${where} is not a JSON object`)
  const {dtype, shape, data_offsets: offsets} = value
  if (!isDtype(dtype)) {
    throw new FormatError(`${where} has unsupported dtype ${JSON.stringify(dtype)} (supported: ${DTYPES.join(', ')})`)
  }
  if (!Array.isArray(shape) || !shape.every(isSize)) {
    throw new FormatError(`${where} has shape ${JSON.stringify(shape)}: entries must be non-negative integers`)
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSize) || offsets[0] > offsets[1]) {
    throw new FormatError(`${where} has data_offsets ${JSON.stringify(offsets)}: expected [begin, end] with 0 <= begin <= end`)
  }
  const numel = shape.reduce((a: number, b: number) => a * b, 1)
  const expected = numel * bytesPerElement(dtype)
  const [begin, end] = offsets as [number, number]
  if (!Number.isSafeInteger(expected) || end - begin !== expected) {
    throw new FormatError(`${where} spans ${end - begin} bytes, but ${dtype} [${shape}] needs ${expected}`)
  }
  if (end > dataLength) {
    throw new FormatError(`${where} has data_offsets [${begin}, ${end}] outside the data section (${dataLength} bytes)`)
  }
  return {dtype, shape, byteLength: expected, offset: begin}
}

/** The tensors must tile the data section exactly: no overlaps (anti-polyglot) and no holes. */
function checkCoverage(sorted: [string, TensorEntry][], dataLength: number, file: string): void {
  let covered = 0
  let previous = ''
  for (const [name, {offset, byteLength}] of sorted) {
    if (offset < covered) {
      throw new FormatError(`${file}: tensor "${name}" at bytes [${offset}, ${offset + byteLength}) overlaps tensor "${previous}" (which ends at ${covered})`)
    }
    if (offset > covered) {
      throw new FormatError(`${file}: data section has a hole at bytes [${covered}, ${offset}) before tensor "${name}"`)
    }
    covered = offset + byteLength
    previous = name
  }
  if (covered !== dataLength) {
    throw new FormatError(`${file}: data section has ${dataLength - covered} bytes after the last tensor that no tensor covers`)
  }
}

/** The 8-byte length plus the JSON header, space-padded so the data section starts 8-byte aligned. */
export function encodeHeader(
  tensors: readonly {name: string; dtype: Dtype; shape: readonly number[]; offset: number; byteLength: number}[],
  metadata: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {}
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata
  for (const t of tensors) header[t.name] = {dtype: t.dtype, shape: t.shape, data_offsets: [t.offset, t.offset + t.byteLength]}
  const json = new TextEncoder().encode(JSON.stringify(header))
  const padded = Math.ceil(json.byteLength / 8) * 8
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength)
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true)
  out.set(json, 8)
  return out
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isSize(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}
