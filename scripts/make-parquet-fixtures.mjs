// Writes the small parquet corpora that test/data/parquet.test.ts reads (test/data/fixtures/), laid
// out as the hub's datasets are: a `text` column beside others, several row groups per file, snappy
// pages, and a folder of `train-0000i-of-0000n.parquet` shards. Run once when they need changing:
//   npm install --no-save hyparquet-writer@0.17.0 && node scripts/make-parquet-fixtures.mjs
// (the writer is not a dependency: the fixtures are committed, and only hyparquet reads them).
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {parquetWriteFile} from 'hyparquet-writer'

const out = process.argv[2] ?? 'test/data/fixtures'
const words = ['river', 'stone', 'délta', 'cloud', 'ember', 'quill', 'marsh', 'orbit']

/** Document `i`: a few words whose count varies, so rows straddle sequence boundaries unevenly. */
function doc(prefix, i) {
  return `${prefix}${i} ` + Array.from({length: 1 + ((i * 7) % 5)}, (_, k) => words[(i + k * 3) % words.length]).join(' ')
}

function write(path, prefix, rows, rowGroupSize, compression = {}) {
  const ids = Array.from({length: rows}, (_, i) => i)
  parquetWriteFile({
    filename: path,
    rowGroupSize,
    ...compression,
    columnData: [
      {name: 'id', data: ids, type: 'INT32'},
      {name: 'text', data: ids.map((i) => doc(prefix, i)), type: 'STRING'},
      {name: 'body', data: ids.map((i) => `body ${i}`), type: 'STRING'},
    ],
  })
}

mkdirSync(join(out, 'shards'), {recursive: true})
write(join(out, 'docs.parquet'), 'd', 23, 5)
write(join(out, 'shards/train-00000-of-00002.parquet'), 'a', 12, 4)
write(join(out, 'shards/train-00001-of-00002.parquet'), 'b', 9, 4)
write(join(out, 'gzip.parquet'), 'g', 7, 3, {codec: 'GZIP', compressors: {GZIP: (bytes) => gzipSync(bytes)}})
// Only the footer's codec matters here (the reader refuses LZ4_RAW before reading a page), so the
// pages are stored as they are rather than LZ4-compressed.
parquetWriteFile({filename: join(out, 'nulls.parquet'), columnData: [{name: 'text', data: ['first', null], type: 'STRING'}]})
write(join(out, 'lz4.parquet'), 'l', 3, 3, {codec: 'LZ4_RAW', compressors: {LZ4_RAW: (bytes) => bytes}})
