import {copyFile, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BatchStream, type BatchStreamOptions} from '../../src/data/batches.js'
import {resolveCorpus} from '../../src/data/corpus.js'
import {ourStderr, runCli} from '../helpers/cli.js'
import {charTokenizer, EOS, show} from './char-tokenizer.js'

// Made by scripts/make-parquet-fixtures.mjs: docs.parquet holds 23 rows in row groups of 5 (columns
// id, text, body); shards/ holds train-00000-of-00002 (12 rows) and train-00001-of-00002 (9 rows);
// gzip.parquet 7 rows with gzip pages; lz4.parquet says its pages are LZ4_RAW; nulls.parquet holds
// 'first' and a null.
const fixtures = join(import.meta.dirname, 'fixtures')
const docs = join(fixtures, 'docs.parquet')
const shards = join(fixtures, 'shards')
const WORDS = ['river', 'stone', 'délta', 'cloud', 'ember', 'quill', 'marsh', 'orbit']
const docText = (prefix: string, i: number): string =>
  `${prefix}${i} ` + Array.from({length: 1 + ((i * 7) % 5)}, (_, k) => WORDS[(i + k * 3) % WORDS.length]).join(' ')

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-parquet-'))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

async function stream(data: string, extra: Partial<BatchStreamOptions> = {}): Promise<BatchStream> {
  const corpus = await resolveCorpus(data, extra.textField)
  return new BatchStream({corpus, tokenizer: charTokenizer, eosId: EOS, seqLen: 8, seed: 1, ...extra})
}

async function rowsOf(s: BatchStream, batches: number, rows = 2): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < batches; i++) {
    const ids = await s.next(rows)
    for (let r = 0; r < rows; r++) out.push(show(ids.subarray(r * 8, (r + 1) * 8)))
  }
  return out
}

describe('--data parquet', () => {
  it('reads each row of the text column as one document, row groups in order', async () => {
    const s = await stream(docs)
    const expected = Array.from({length: 23}, (_, i) => docText('d', i) + '|').join('')
    const text = (await rowsOf(s, Math.ceil(expected.length / 16) + 1)).join('')
    await s.close()
    expect(text.startsWith(expected)).toBe(true)
    // The next epoch starts over at row 0.
    expect(text.slice(expected.length)).toMatch(/^d0 /)
  })

  it('reads gzip pages, and refuses a codec it cannot decode before reading', async () => {
    const s = await stream(join(fixtures, 'gzip.parquet'))
    const expected = Array.from({length: 7}, (_, i) => docText('g', i) + '|').join('')
    expect((await rowsOf(s, Math.ceil(expected.length / 16))).join('').startsWith(expected)).toBe(true)
    await s.close()
    const lz4 = join(fixtures, 'lz4.parquet')
    await expect(resolveCorpus(lz4)).rejects.toThrow(`${lz4}: column "text" is compressed with LZ4_RAW, which hybridize cannot read here (it reads UNCOMPRESSED, SNAPPY, GZIP, BROTLI`)
  })

  it('reads the column --text-field names', async () => {
    const s = await stream(docs, {textField: 'body'})
    expect((await rowsOf(s, 1)).join('')).toBe('body 0|body 1|bo')
    await s.close()
  })

  it('reads a folder of train-*-of-* shards as one corpus, shard order shuffled by the seed', async () => {
    const corpus = await resolveCorpus(shards)
    expect(corpus.kind === 'files' && corpus.files.map((f) => [f.path.slice(shards.length + 1), f.format])).toEqual([
      ['train-00000-of-00002.parquet', 'parquet'],
      ['train-00001-of-00002.parquet', 'parquet'],
    ])
    const s = await stream(shards)
    const a = Array.from({length: 12}, (_, i) => docText('a', i) + '|').join('')
    const b = Array.from({length: 9}, (_, i) => docText('b', i) + '|').join('')
    const epoch = (await rowsOf(s, Math.ceil((a.length + b.length) / 16))).join('').slice(0, a.length + b.length)
    await s.close()
    expect([a + b, b + a]).toContain(epoch)
  })

  it('resumes exactly: a run stopped after any batch and resumed sees the batches of an uninterrupted one', async () => {
    for (const data of [docs, shards]) {
      const whole = await stream(data)
      const all = await rowsOf(whole, 40)
      await whole.close()
      const rows = new Set<number>()
      for (const stop of [1, 3, 7, 12, 19, 26, 33]) {
        const s = await stream(data)
        await rowsOf(s, stop)
        // Through JSON, as a checkpoint stores it.
        const saved = JSON.parse(JSON.stringify(s.position))
        rows.add(saved.text.cursor.offset)
        await s.close()
        const resumed = await stream(data, {position: saved})
        expect(await rowsOf(resumed, 40 - stop), `${data} stopped after ${stop}`).toEqual(all.slice(stop * 2))
        await resumed.close()
      }
      // The stops fall in several row groups, past the first.
      expect(Math.max(...rows)).toBeGreaterThan(10)
    }
  })

  it('refuses a missing column, a column that is not text, and a file that is not parquet, naming the file', async () => {
    await expect(resolveCorpus(docs, 'content')).rejects.toThrow(`${docs}: no column "content" (columns: id, text, body; choose one with --text-field)`)
    await expect(resolveCorpus(docs, 'id')).rejects.toThrow(`${docs}: column "id" holds INT32, not text`)
    const fake = join(dir, 'fake.parquet')
    await writeFile(fake, '{"text": "I am JSON"}\n')
    await expect(resolveCorpus(fake)).rejects.toThrow(`${fake}: not a parquet file`)
    // In a folder, too, before anything is read.
    await copyFile(docs, join(dir, 'a.parquet'))
    await expect(resolveCorpus(dir)).rejects.toThrow(`${fake}: not a parquet file`)
  })

  it('refuses a null row, naming the file and the row', async () => {
    const nulls = join(fixtures, 'nulls.parquet')
    const s = await stream(nulls)
    await expect(rowsOf(s, 1)).rejects.toThrow(`${nulls}: row 1: column "text" holds null, not text`)
    await s.close()
  })

  it('exits 1 with one line naming the file', () => {
    const out = join(dir, 'run')
    for (const [data, field, pattern] of [
      [join(dir, 'fake.parquet'), 'text', /fake\.parquet: not a parquet file/],
      [docs, 'content', /docs\.parquet: no column "content"/],
    ] as const) {
      const r = runCli(['distill', 'fixtures/phi-tiny', '--teacher', 'fixtures/phi-tiny', '--data', data, '--text-field', field, '--out', out])
      expect(r.status, r.stderr).toBe(1)
      const lines = ourStderr(r.stderr)
      expect(lines, r.stderr).toHaveLength(1)
      expect(lines[0]).toMatch(pattern)
    }
  })
})
