import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {generateSamples, getTask} from '../src/tasks/index.js'
import {type TextTokenizer, loadTokenizer} from '../src/tokenizer/load.js'
import {preTokenize} from '../src/tokenizer/pre-tokenize.js'
import {writeTokenizer} from '../src/tokenizer/tokenizer-json.js'
import {type BpeModel, trainBpe} from '../src/tokenizer/train-bpe.js'
import {tokenizerTrainingTexts} from '../src/tokenizer/training-corpus.js'

const VARIED = [
  'The value of the key \'apple\' is 42.',
  'Memorize the following dictionary:\nriver:7\nengine:93\n',
  '  spaced\tout\n\n\nlines  ',
  'naïve café — 東京 🚀 déjà vu',
  "It's 1999; they'll say we'd've won. Don't!",
  '12345 + 678 = 13023, pi ~ 3.14159',
  'tabs\t\tand\r\nwindows\r\nline ends',
  'unknown bytes: \u0000\u0007\u001b and <|endoftext|> inside',
  'x',
]

describe('byte-level BPE trainer', () => {
  let folder: string
  let model: BpeModel
  let tok: TextTokenizer

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'hybridize-bpe-'))
    model = trainBpe(tokenizerTrainingTexts({seed: 0, samplesPerTask: 200, brownDocuments: 40}), {vocabSize: 512})
    await writeTokenizer(folder, model)
    tok = await loadTokenizer(folder)
  })
  afterAll(async () => {
    await rm(folder, {recursive: true, force: true})
  })

  it('writes a tokenizer that @huggingface/tokenizers loads, with the requested vocabulary size', () => {
    expect(model.vocab).toHaveLength(512)
    expect(tok.vocabSize).toBe(512)
    expect(tok.tokenToId('<|endoftext|>')).toBe(510)
    expect(tok.tokenToId('<|pad|>')).toBe(511)
    expect(tok.tokenToId('Ġthe')).toBeGreaterThanOrEqual(256)
  })

  it('decodes what it encodes, byte for byte', () => {
    for (const text of VARIED) expect(tok.decode(tok.encode(text))).toBe(text)
    for (const sample of generateSamples(getTask('needle'), {seed: 1, count: 3})) {
      expect(tok.decode(tok.encode(sample.prompt + sample.answer))).toBe(sample.prompt + sample.answer)
    }
  })

  it('applies the learned merges: frequent words are single tokens, and it compresses English', () => {
    expect(tok.encode(' the')).toEqual([tok.tokenToId('Ġthe')])
    const text = generateSamples(getTask('needle'), {seed: 2, count: 1, haystackChars: 3000})[0].prompt
    expect(tok.encode(text).length).toBeLessThan(text.length / 2)
  })

  it('writes every digit as its own token, so values 0-99 tokenize predictably', () => {
    for (let v = 0; v < 100; v++) {
      const digits = String(v).split('')
      expect(tok.encode(String(v)).map((id) => tok.decode([id]))).toEqual(digits)
      const spaced = tok.encode(` ${v}`).map((id) => tok.decode([id]))
      expect(spaced.join('')).toBe(` ${v}`)
      expect(spaced.map((piece) => piece.trimStart()).filter((piece) => piece !== '')).toEqual(digits)
      expect(spaced).toHaveLength(digits.length + (spaced[0] === ' ' ? 1 : 0))
    }
    expect(tok.encode('2024').map((id) => tok.decode([id]))).toEqual(['2', '0', '2', '4'])
  })

  it('never merges across a pre-token boundary', () => {
    // ASCII only, so that every token decodes on its own to its exact characters.
    for (const text of VARIED.filter((t) => /^[\x00-\x7f]*$/.test(t) && !t.includes('<|'))) {
      const boundaries = new Set<number>()
      let at = 0
      for (const piece of preTokenize(text)) boundaries.add((at += piece.length))
      let end = 0
      const pieceEnds = new Set<number>()
      for (const id of tok.encode(text)) pieceEnds.add((end += tok.decode([id]).length))
      for (const b of boundaries) expect(pieceEnds.has(b)).toBe(true)
    }
  })

  it('writes a retrieval key with the same tokens in the dictionary and in the question', () => {
    const contains = (ids: number[], part: number[]) => ids.some((_, i) => part.every((p, j) => ids[i + j] === p))
    for (const sample of generateSamples(getTask('kv-retrieval'), {seed: 4, count: 20})) {
      const key = sample.prompt.slice(sample.query.start, sample.query.end)
      const line = tok.encode(`${key}:${sample.answer.trim()}\n`)
      const question = tok.encode(`The value of the key '${key}' is`)
      expect(contains(tok.encode(sample.prompt), line)).toBe(true)
      expect(contains(question, tok.encode(key))).toBe(true)
      expect(line.slice(0, tok.encode(key).length)).toEqual(tok.encode(key))
    }
    for (const sample of generateSamples(getTask('mc-retrieval'), {seed: 4, count: 20})) {
      const word = tok.encode(` ${sample.prompt.slice(sample.query.start, sample.query.end)}`)
      const ids = tok.encode(sample.prompt)
      expect(ids.filter((_, i) => word.every((w, j) => ids[i + j] === w))).toHaveLength(2)
    }
  })

  it('encodes special tokens as themselves, and learns no merge across them', () => {
    expect(tok.encode('a<|endoftext|>b')).toEqual([tok.tokenToId('a'), 510, tok.tokenToId('b')])
    expect(tok.decode(tok.encode('a<|endoftext|>b'), {skipSpecialTokens: true})).toBe('ab')
    const separated = trainBpe(Array(50).fill('x<|endoftext|>y<|pad|>'), {vocabSize: 270, minFrequency: 1})
    expect(separated.merges).toEqual([])
  })

  it('is deterministic: same texts, same tokenizer.json; other texts, other merges', async () => {
    const texts = tokenizerTrainingTexts({seed: 0, samplesPerTask: 50, brownDocuments: 10})
    const first = trainBpe(texts, {vocabSize: 400})
    expect(trainBpe(texts, {vocabSize: 400})).toEqual(first)
    const other = trainBpe(tokenizerTrainingTexts({seed: 1, samplesPerTask: 50, brownDocuments: 20}), {vocabSize: 400})
    expect(other.merges).not.toEqual(first.merges)
    const again = await mkdtemp(join(tmpdir(), 'hybridize-bpe-'))
    try {
      await writeTokenizer(again, model)
      expect(await readFile(join(again, 'tokenizer.json'), 'utf8')).toBe(await readFile(join(folder, 'tokenizer.json'), 'utf8'))
    } finally {
      await rm(again, {recursive: true, force: true})
    }
  })

  it('learns the merges a from-scratch recount would', () => {
    const tiny = ['low lower lowest newer wider new new news', 'aaaa aaa banana bandana']
    expect(trainBpe(tiny, {vocabSize: 256 + 12 + 2, minFrequency: 1}).merges).toEqual(naiveMerges(tiny, 12))
    const brown = tokenizerTrainingTexts({seed: 3, samplesPerTask: 5, brownDocuments: 2})
    expect(trainBpe(brown, {vocabSize: 256 + 150 + 2, minFrequency: 1}).merges).toEqual(naiveMerges(brown, 150))
  })

  it('trains a 1024 vocabulary on 2 MB of text in seconds', () => {
    const texts = tokenizerTrainingTexts({seed: 0, samplesPerTask: 300, brownDocuments: 120})
    expect(texts.reduce((n, t) => n + t.length, 0)).toBeGreaterThan(1_900_000)
    const start = performance.now()
    expect(trainBpe(texts, {vocabSize: 1024}).vocab).toHaveLength(1024)
    expect(performance.now() - start).toBeLessThan(15_000)
  })
})

/** Reference BPE: recount every pair before each merge; most frequent first, ties to the earlier-created pair. */
function naiveMerges(texts: string[], count: number): Array<[string, string]> {
  const ids = new Map<string, number>()
  const idOf = (token: string) => {
    if (!ids.has(token)) ids.set(token, ids.size)
    return ids.get(token)!
  }
  // Byte ids first, in byte order, so ties break as in the trainer (smaller ids first).
  for (let b = 0; b < 256; b++) idOf(byteChar(b))
  let words = texts.flatMap(preTokenize).map((piece) => [...Buffer.from(piece, 'utf8')].map(byteChar))
  const merges: Array<[string, string]> = []
  while (merges.length < count) {
    const counts = new Map<string, {n: number; a: string; b: string}>()
    for (const word of words) {
      for (let i = 0; i + 1 < word.length; i++) {
        const key = `${idOf(word[i])},${idOf(word[i + 1])}`
        const entry = counts.get(key) ?? {n: 0, a: word[i], b: word[i + 1]}
        entry.n++
        counts.set(key, entry)
      }
    }
    const best = [...counts.values()].sort((x, y) => y.n - x.n || idOf(x.a) - idOf(y.a) || idOf(x.b) - idOf(y.b))[0]
    if (best === undefined) break
    merges.push([best.a, best.b])
    idOf(best.a + best.b)
    words = words.map((word) => {
      const out: string[] = []
      for (let i = 0; i < word.length; i++) {
        if (word[i] === best.a && word[i + 1] === best.b) {
          out.push(best.a + best.b)
          i++
        } else out.push(word[i])
      }
      return out
    })
  }
  return merges
}

function byteChar(b: number): string {
  const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
  if (printable) return String.fromCharCode(b)
  let shifted = 0
  for (let c = 0; c < b; c++) if (!((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || (c >= 0xae && c <= 0xff))) shifted++
  return String.fromCharCode(256 + shifted)
}
