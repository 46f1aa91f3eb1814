import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {fromArray, scopeAsync} from '../../src/engine/tensor.js'
import {runPerplexity} from '../../src/eval/tasks/perplexity.js'
import {loadTeacher} from '../../src/models/load.js'
import {loadTokenizer} from '../../src/tokenizer/load.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'

/** lm_eval/utils.py get_rolling_token_windows, ported: (input tokens, predicted tokens) pairs. */
function* rollingWindows(tokens: number[], prefix: number, maxSeqLen: number, contextLen: number): Generator<[number[], number[]]> {
  if (tokens.length === 0) return
  const predLen = maxSeqLen - contextLen + 1
  let predicted = 0
  const firstSeqLen = Math.min(maxSeqLen, tokens.length)
  yield [[prefix, ...tokens.slice(0, firstSeqLen - 1)], tokens.slice(0, firstSeqLen)]
  predicted += firstSeqLen
  while (predicted < tokens.length) {
    const windowPredLen = Math.min(tokens.length - predicted, predLen)
    const windowEnd = predicted + windowPredLen
    yield [tokens.slice(Math.max(0, windowEnd - maxSeqLen - 1), windowEnd - 1), tokens.slice(windowEnd - windowPredLen, windowEnd)]
    predicted += windowPredLen
  }
}

const TEXT = 'The value of the key is the number that follows it in the dictionary.\nMemorize the following dictionary:  river:7 engine:93\n'

describe('ppl: as lm-evaluation-harness computes loglikelihood_rolling perplexity', () => {
  let fixture: Awaited<ReturnType<typeof tinyModelWithTokenizer>>
  let root: string
  beforeAll(async () => {
    fixture = await tinyModelWithTokenizer()
    root = await mkdtemp(join(tmpdir(), 'hybridize-ppl-'))
    await writeFile(join(root, 'text.txt'), TEXT)
  })
  afterAll(async () => {
    await fixture.cleanup()
    await rm(root, {recursive: true, force: true})
  })

  for (const seqLen of [8, 64]) {
    it(`predicts every token, the first from the prefix token, in rolling windows of ${seqLen}`, async () => {
      const backend = new CpuBackend()
      const model = await loadTeacher(fixture.folder, backend)
      const tok = await loadTokenizer(fixture.folder)
      const prefix = tok.tokenToId('<|endoftext|>')!
      const got = await runPerplexity([join(root, 'text.txt')], seqLen, {lm: model, tokenizer: tok, batchSize: 2, seed: 0, logSamples: true, prefixTokenId: prefix, progress: () => {}})

      // By hand: one full forward per lm-eval window, summing log p of the predicted tokens (the window's last ones).
      const tokens = tok.encode(TEXT)
      const V = model.vocabSize
      let ll = 0
      for (const [input, pred] of rollingWindows(tokens, prefix, seqLen, 1)) {
        const logits = await scopeAsync(async () => model.forward(fromArray(backend, Int32Array.from(input), [1, input.length])).logits.toFloat32())
        for (let k = 0; k < pred.length; k++) {
          const t = input.length - pred.length + k
          const row = Array.from(logits.subarray(t * V, (t + 1) * V))
          const max = Math.max(...row)
          ll += row[pred[k]] - (max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0)))
        }
      }
      const words = TEXT.split(/\s+/).length // len(re.split(r"\s+", doc)): the trailing newline counts an empty word, as in lm-eval
      const bytes = Buffer.byteLength(TEXT, 'utf8')
      expect(got.metrics['word_perplexity,none'] / Math.exp(-ll / words)).toBeCloseTo(1, 6)
      expect(got.metrics['byte_perplexity,none']).toBeCloseTo(Math.exp(-ll / bytes), 4)
      expect(got.metrics['bits_per_byte,none']).toBeCloseTo(-ll / bytes / Math.LN2, 4)
      expect(got.metrics['token_perplexity,none'] / Math.exp(-ll / tokens.length)).toBeCloseTo(1, 6)
      expect(got.samples![0].word_perplexity).toEqual([expect.objectContaining({value: expect.closeTo(ll, 3)}), words])
      for (const w of model.weights.values()) w.dispose()
    }, 60_000)
  }
})
