import {mkdir, mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {BatchStream, type BatchStreamOptions} from '../../src/data/batches.js'
import {resolveCorpus} from '../../src/data/corpus.js'
import {parseMix} from '../../src/data/mix.js'
import {charTokenizer, EOS, show} from './char-tokenizer.js'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-data-'))
  await mkdir(join(dir, 'corpus/sub'), {recursive: true})
  await writeFile(join(dir, 'corpus/a.txt'), 'alpha one\nalpha two\n')
  await writeFile(join(dir, 'corpus/sub/b.jsonl'), '{"text": "beta"}\n\n{"text": "gamma", "id": 2}\n')
  await writeFile(join(dir, 'corpus/ignored.bin'), 'not listed')
  // Far more than one 64 KiB read, with a multi-byte character straddling chunk boundaries.
  await writeFile(join(dir, 'big.txt'), Array.from({length: 20_000}, (_, i) => `line ${i} é\n`).join(''))
})

async function stream(data: string, extra: Partial<BatchStreamOptions> = {}): Promise<BatchStream> {
  return new BatchStream({corpus: await resolveCorpus(data), tokenizer: charTokenizer, eosId: EOS, seqLen: 8, seed: 1, ...extra})
}

async function rowsOf(s: BatchStream, batches: number, rows = 2): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < batches; i++) {
    const ids = await s.next(rows)
    for (let r = 0; r < rows; r++) out.push(show(ids.subarray(r * 8, (r + 1) * 8)))
  }
  return out
}

describe('BatchStream', () => {
  it('packs documents end to end with end-of-text between them, files in a seeded order', async () => {
    const s = await stream(join(dir, 'corpus'))
    const text = (await rowsOf(s, 3)).join('')
    await s.close()
    // One epoch: the text file is one document, each JSONL line another; the blank line is skipped.
    const docs = ['alpha one\nalpha two\n|', 'beta|', 'gamma|']
    const epoch = text.slice(0, docs.join('').length)
    expect([...docs].sort()).toEqual(docs.filter((d) => epoch.includes(d)).sort())
    expect(epoch.length).toBe(docs.join('').length)
  })

  it('gives the same batches for the same seed and another order for another seed', async () => {
    const [a, b] = [await stream(join(dir, 'corpus')), await stream(join(dir, 'corpus'))]
    expect(await rowsOf(a, 20)).toEqual(await rowsOf(b, 20))
    await Promise.all([a.close(), b.close()])
    const orders = new Set<string>()
    for (let seed = 0; seed < 8; seed++) {
      const s = await stream(join(dir, 'corpus'), {seed})
      orders.add((await rowsOf(s, 2)).join(''))
      await s.close()
    }
    expect(orders.size).toBeGreaterThan(1)
  })

  it('reads --text-field', async () => {
    await writeFile(join(dir, 'body.jsonl'), '{"body": "xyz"}\n')
    const s = await stream(join(dir, 'body.jsonl'), {textField: 'body'})
    expect((await rowsOf(s, 1, 1))[0]).toBe('xyz|xyz|')
    await s.close()
  })

  it('streams a large file and resumes from a saved position exactly', async () => {
    const whole = await stream(join(dir, 'big.txt'))
    const first = await rowsOf(whole, 500, 20)
    const rest = await rowsOf(whole, 100, 20)
    await whole.close()
    const s = await stream(join(dir, 'big.txt'))
    await rowsOf(s, 500, 20)
    const saved = JSON.parse(JSON.stringify(s.position))
    expect(saved.text.cursor.offset).toBeGreaterThan(65536)
    await s.close()
    const resumed = await stream(join(dir, 'big.txt'), {position: saved})
    expect(await rowsOf(resumed, 100, 20)).toEqual(rest)
    await resumed.close()
    expect(first.join('').startsWith('line 0 é\nline 1 é\n')).toBe(true)
    expect([...first, ...rest].join('')).toContain('line 1234 é\nline 1235 é\n')
  })

  it('blends synthetic retrieval samples into the given share of rows, resumably', async () => {
    const mix = parseMix('kv-retrieval:0.25')
    const s = await stream('brown', {seqLen: 64, mix})
    const rows: string[] = []
    for (let i = 0; i < 20; i++) {
      const ids = await s.next(10)
      for (let r = 0; r < 10; r++) rows.push(show(ids.subarray(r * 64, (r + 1) * 64)))
    }
    const synthetic = rows.filter((r) => /dictionary|The value of the key|^\w+:\d+\n/m.test(r)).length
    expect(synthetic / rows.length).toBeGreaterThan(0.15)
    expect(synthetic / rows.length).toBeLessThan(0.35)
    const saved = JSON.parse(JSON.stringify(s.position))
    const next = await s.next(10)
    const resumed = await stream('brown', {seqLen: 64, mix, position: saved})
    expect(Array.from(await resumed.next(10))).toEqual(Array.from(next))
  })

  it('puts whole task samples in a row, padding with end-of-text rather than cutting a prompt from its answer', async () => {
    const s = await stream('brown', {seqLen: 1024, mix: parseMix('kv-retrieval:0.5:pairs=2-16')})
    let samples = 0
    for (let i = 0; i < 6; i++) {
      const row = show(await s.next(1))
      if (!row.includes('dictionary')) continue
      const docs = row.split('|').filter((d) => d !== '')
      for (const doc of docs) {
        expect(doc).toMatch(/^Memorize the following dictionary:\n[\s\S]*The value of the key '\w+' is \d+$/)
        const pairs = doc.split('\n').filter((line) => /^\w+:\d+$/.test(line)).length
        expect(pairs).toBeGreaterThanOrEqual(2)
        expect(pairs).toBeLessThanOrEqual(16)
      }
      samples += docs.length
      expect(row.endsWith('|')).toBe(true)
    }
    expect(samples).toBeGreaterThan(2)
    await s.close()
  })

  it('rejects a bad --mix', () => {
    expect(() => parseMix('kv-retrieval')).toThrow(/task:fraction/)
    expect(() => parseMix('nope:0.1')).toThrow(/unknown task 'nope'/)
    expect(() => parseMix('kv-retrieval:0.6,needle:0.5')).toThrow(/add up to/)
    expect(() => parseMix('kv-retrieval:0.1:keys=2-16')).toThrow(/has no numeric option 'keys' \(options: pairs\)/)
    expect(parseMix('kv-retrieval:0.1:pairs=2-16')).toEqual([{task: 'kv-retrieval', fraction: 0.1, range: {option: 'pairs', min: 2, max: 16}}])
  })
})

describe('bad data', () => {
  it('names a missing path', async () => {
    await expect(resolveCorpus(join(dir, 'nothing-here'))).rejects.toThrow(/no such file or folder/)
  })

  it('names a folder without corpus files', async () => {
    await mkdir(join(dir, 'empty'), {recursive: true})
    await writeFile(join(dir, 'empty/x.bin'), 'x')
    await expect(resolveCorpus(join(dir, 'empty'))).rejects.toThrow(/holds no \.txt/)
  })

  it('names the file and line of corrupt JSONL', async () => {
    await writeFile(join(dir, 'bad.jsonl'), '{"text": "ok"}\n{"text": "cut off\n')
    const s = await stream(join(dir, 'bad.jsonl'))
    await expect(s.next(2)).rejects.toThrow(/bad\.jsonl:2: not valid JSON/)
    await s.close()
  })

  it('names a JSONL line without the text field', async () => {
    await writeFile(join(dir, 'nofield.jsonl'), '{"content": "x"}\n')
    const s = await stream(join(dir, 'nofield.jsonl'))
    await expect(s.next(1)).rejects.toThrow(/nofield\.jsonl:1: no string field "text" \(choose the field with --text-field\)/)
    await s.close()
  })

  it('names a binary file', async () => {
    await writeFile(join(dir, 'binary.txt'), Buffer.from([0x41, 0xff, 0xfe, 0x00, 0x0a]))
    const s = await stream(join(dir, 'binary.txt'))
    await expect(s.next(1)).rejects.toThrow(/binary\.txt:1: not UTF-8 text/)
    await s.close()
  })

  it('stops on a corpus without text rather than looping', async () => {
    await writeFile(join(dir, 'blank.jsonl'), '\n\n')
    const s = await stream(join(dir, 'blank.jsonl'))
    await expect(s.next(1)).rejects.toThrow(/holds no text/)
    await s.close()
  })

  it('names a file that disappeared after the run started', async () => {
    await writeFile(join(dir, 'gone.txt'), 'soon gone\n')
    const corpus = await resolveCorpus(join(dir, 'gone.txt'))
    const {rm} = await import('node:fs/promises')
    await rm(join(dir, 'gone.txt'))
    const s = new BatchStream({corpus, tokenizer: charTokenizer, eosId: EOS, seqLen: 8, seed: 1})
    await expect(s.next(1)).rejects.toThrow(/gone\.txt: the data file is missing/)
  })
})
