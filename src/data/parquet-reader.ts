import * as zlib from 'node:zlib'
import {asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, type AsyncBuffer, type Compressors, type FileMetaData} from 'hyparquet'
import {FormatError} from '../errors.js'

/**
 * The rows of one column of a parquet file, from a row index on, one row group in memory at a time,
 * so a file larger than memory streams. The row index is the resumable position, as a line is for
 * JSONL. The datasets hybridize distils on (fineweb-edu, finemath) ship this way, the text in a
 * `text` column.
 */
export class ParquetColumnReader {
  /** Row index of the first row of each row group, and the total after the last. */
  private readonly groupStarts: number[]
  private group: {start: number; rows: unknown[]} | undefined

  private constructor(
    readonly path: string,
    private readonly file: AsyncBuffer,
    private readonly metadata: FileMetaData,
    private readonly column: string,
    private row: number,
  ) {
    this.groupStarts = [0]
    for (const g of metadata.row_groups) this.groupStarts.push(this.groupStarts.at(-1)! + Number(g.num_rows))
  }

  /** Opens `path` at `row`, checking it is parquet with a text column `column`. */
  static async open(path: string, column: string, row = 0): Promise<ParquetColumnReader> {
    const {file, metadata} = await readFooter(path)
    checkTextColumn(path, metadata, column)
    return new ParquetColumnReader(path, file, metadata, column, row)
  }

  get rows(): number {
    return this.groupStarts.at(-1)!
  }

  /** The next row's value and its index, or undefined after the last row. */
  async next(): Promise<{value: unknown; row: number} | undefined> {
    if (this.row >= this.rows) return undefined
    if (!this.group || this.row >= this.group.start + this.group.rows.length) await this.loadGroupOf(this.row)
    const row = this.row++
    return {value: this.group!.rows[row - this.group!.start], row}
  }

  private async loadGroupOf(row: number): Promise<void> {
    let g = 0
    while (this.groupStarts[g + 1] <= row) g++
    const [start, end] = [this.groupStarts[g], this.groupStarts[g + 1]]
    this.group = undefined
    let objects: Record<string, unknown>[]
    try {
      objects = await parquetReadObjects({file: this.file, metadata: this.metadata, columns: [this.column], rowStart: start, rowEnd: end, compressors: DECOMPRESSORS})
    } catch (err) {
      throw new FormatError(`${this.path}: cannot read row group ${g} (${(err as Error).message})`, {cause: err})
    }
    this.group = {start, rows: objects.map((o) => o[this.column])}
  }
}

const FOOTER_FETCH_BYTES = 1 << 16

/** The file and its footer, or a one-line error naming the file when it is not parquet. */
export async function readFooter(path: string): Promise<{file: AsyncBuffer; metadata: FileMetaData}> {
  let file: AsyncBuffer
  try {
    file = await asyncBufferFromFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new FormatError(`${path}: the data file is missing`)
    throw err
  }
  try {
    // A small first read: `--data` checks the footer of every shard of a folder (fineweb-edu has
    // thousands), and hyparquet reads the rest of a larger footer when it needs it.
    return {file, metadata: await parquetMetadataAsync(file, {initialFetchSize: FOOTER_FETCH_BYTES})}
  } catch (err) {
    throw new FormatError(`${path}: not a parquet file (${(err as Error).message.replace(/^parquet /, '')})`, {cause: err})
  }
}

/** Refuses a file without a top-level string column `column`, listing the columns it has. */
export function checkTextColumn(path: string, metadata: FileMetaData, column: string): void {
  // schema[0] is the root; its direct children follow, each with its own subtree after it.
  const top: FileMetaData['schema'] = []
  for (let i = 1; i < metadata.schema.length; i += subtreeSize(metadata.schema, i)) top.push(metadata.schema[i])
  const element = top.find((e) => e.name === column)
  if (!element) throw new FormatError(`${path}: no column "${column}" (columns: ${top.map((e) => e.name).join(', ')}; choose one with --text-field)`)
  if (element.type !== 'BYTE_ARRAY' || element.num_children) {
    const kind = element.num_children ? 'a nested group' : `${element.type}`
    throw new FormatError(`${path}: column "${column}" holds ${kind}, not text (choose another with --text-field)`)
  }
  for (const g of metadata.row_groups) {
    const codec = g.columns.find((c) => c.meta_data?.path_in_schema[0] === column)?.meta_data?.codec
    if (codec && !READABLE_CODECS.has(codec)) throw new FormatError(`${path}: column "${column}" is compressed with ${codec}, which hybridize cannot read here (it reads ${[...READABLE_CODECS].join(', ')})`)
  }
}

/**
 * Page codecs beyond hyparquet's own (snappy, the hub's default): those node:zlib decodes; zstd
 * only where this Node has it (22.15 and later).
 */
const zstd = (zlib as unknown as {zstdDecompressSync?: (b: Uint8Array) => Buffer}).zstdDecompressSync
const DECOMPRESSORS: Compressors = {
  GZIP: (input) => zlib.gunzipSync(input),
  BROTLI: (input) => zlib.brotliDecompressSync(input),
  ...(zstd ? {ZSTD: (input: Uint8Array) => zstd(input)} : {}),
}
const READABLE_CODECS = new Set(['UNCOMPRESSED', 'SNAPPY', ...Object.keys(DECOMPRESSORS)])

function subtreeSize(schema: FileMetaData['schema'], i: number): number {
  let size = 1
  for (let c = 0; c < (schema[i].num_children ?? 0); c++) size += subtreeSize(schema, i + size)
  return size
}
