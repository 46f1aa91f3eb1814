import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {resolveCorpus} from '../../src/data/corpus.js'
import {DocumentReader} from '../../src/data/documents.js'
import {parseTaskList} from '../../src/eval/run-tasks.js'
import {runPerplexity} from '../../src/eval/tasks/perplexity.js'
import {loadTeacher} from '../../src/models/load.js'
import {brownDocuments, brownPartOf, brownText} from '../../src/tasks/brown.js'
import {loadTokenizer} from '../../src/tokenizer/load.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'

describe('the Brown corpus split: distill --data brown against eval ppl:brown-heldout', () => {
  it('holds out the files numbered 5, 15, 25, ..: one in ten of every genre, 52 of 500', () => {
    const heldout = brownDocuments('heldout')
    const train = brownDocuments('train')
    expect(heldout.map((d) => d.id).slice(0, 3)).toEqual(['ca05', 'ca15', 'ca25'])
    expect(heldout).toHaveLength(52)
    expect(train.length + heldout.length).toBe(brownDocuments().length)
    expect(new Set(heldout.map((d) => d.category))).toEqual(new Set(brownDocuments().map((d) => d.category)))
    expect(brownPartOf('cr09')).toBe('train')
  })

  it('distill --data brown reads every train document once an epoch and no held-out text', async () => {
    const heldoutTexts = new Set(brownDocuments('heldout').map(brownText))
    const reader = new DocumentReader(await resolveCorpus('brown'), 1, 'text')
    const read: string[] = []
    while (reader.cursor.epoch === 0) read.push((await reader.next()).text)
    expect(read).toHaveLength(448)
    expect(read.filter((text) => heldoutTexts.has(text))).toEqual([])
    // Not even a sentence in common: no held-out sentence of any length is repeated in the train part.
    const trainSentences = new Set(brownDocuments('train').flatMap((d) => d.paragraphs.flat()))
    const shared = brownDocuments('heldout').flatMap((d) => d.paragraphs.flat()).filter((s) => s.length > 80 && trainSentences.has(s))
    expect(shared).toEqual([])
  })

  describe('ppl:brown-heldout', () => {
    let fixture: Awaited<ReturnType<typeof tinyModelWithTokenizer>>
    beforeAll(async () => {
      fixture = await tinyModelWithTokenizer()
    })
    afterAll(() => fixture.cleanup())

    it('scores the 52 held-out documents, one window each under --limit 1', async () => {
      expect(parseTaskList('ppl:brown-heldout,kv-retrieval:keys=heldout')).toEqual(['ppl:brown-heldout', 'kv-retrieval:keys=heldout'])
      const tok = await loadTokenizer(fixture.folder)
      const lm = await loadTeacher(fixture.folder, new CpuBackend())
      const r = await runPerplexity(['brown-heldout'], 16, {lm, tokenizer: tok, limit: 1, batchSize: 8, seed: 0, logSamples: true, prefixTokenId: tok.tokenToId('<|endoftext|>')!, progress: () => {}})
      expect(r.task).toBe('ppl:brown-heldout')
      expect(r.counts.original).toBe(52)
      const files = r.samples!.map((s) => (s.doc as {file: string}).file)
      expect(files.slice(0, 2)).toEqual(['brown-heldout/ca05', 'brown-heldout/ca15'])
      expect(files.every((f) => brownPartOf(f.split('/')[1]) === 'heldout')).toBe(true)
      expect(Number.isFinite(r.metrics['word_perplexity,none'])).toBe(true)
    }, 60_000)
  })
})
