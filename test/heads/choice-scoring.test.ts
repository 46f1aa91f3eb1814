import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import {loglikelihood} from '../../src/eval/loglikelihood.js'
import {initialWeights} from '../../src/fixtures/init-weights.js'
import {ablationRunner, type HeadId} from '../../src/heads/ablation-runner.js'
import {scoreChoices, tokenizeItems} from '../../src/heads/choice-scoring.js'
import {parseTeacherConfig} from '../../src/models/config.js'
import {TeacherModel} from '../../src/models/teacher.js'
import {generateSamples} from '../../src/tasks/index.js'
import {kvRetrieval} from '../../src/tasks/kv-retrieval.js'
import {loadTokenizer, type TextTokenizer} from '../../src/tokenizer/load.js'
import {writeTokenizer} from '../../src/tokenizer/tokenizer-json.js'
import {trainBpe} from '../../src/tokenizer/train-bpe.js'
import {tokenizerTrainingTexts} from '../../src/tokenizer/training-corpus.js'
import {cpuBackend} from '../helpers/backends.js'

/**
 * The batched, pruned choice scorer against lm-evaluation-harness-style loglikelihood (one row per
 * choice), on a random model whose answers are often wrong (so pruning and second-pass rows are
 * exercised), with and without per-row head ablations.
 */
const backend = cpuBackend()
let tok: TextTokenizer
let folder: string
let model: TeacherModel

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'hybridize-choices-'))
  await writeTokenizer(folder, trainBpe(tokenizerTrainingTexts({seed: 0, samplesPerTask: 60, brownDocuments: 5}), {vocabSize: 400}))
  tok = await loadTokenizer(folder)
  const config = parseTeacherConfig({
    model_type: 'llama', vocab_size: 400, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-5, tie_word_embeddings: true,
  })
  const weights = new Map([...initialWeights(config, 5, 0.5)].map(([name, w]) => [name, fromArray(backend, w.data, w.shape)]))
  model = new TeacherModel(config, weights, backend)
})
afterAll(async () => {
  await rm(folder, {recursive: true, force: true})
})

/** Reference: every choice scored in its own row, heads ablated through the headMasks option. */
async function reference(ablated: readonly HeadId[]): Promise<{correct: boolean[]; exact: boolean[]; answerLogprob: number[]}> {
  const {numLayers, numHeads} = model.config
  const masks = Array.from({length: numLayers}, (_, l) =>
    fromArray(backend, Float32Array.from({length: numHeads}, (_, h) => (ablated.some(([al, ah]) => al === l && ah === h) ? 0 : 1)), [numHeads]),
  )
  const lm = {backend, vocabSize: model.vocabSize, forward: (ids: Tensor, opts?: {logitRows?: Tensor}) => model.forward(ids, {...opts, headMasks: masks})}
  const correct: boolean[] = []
  const exact: boolean[] = []
  const answerLogprob: number[] = []
  for (const s of samples()) {
    const results = await loglikelihood(lm, tok, s.choices.map((c) => ({context: s.prompt, continuation: c})), 32)
    const scores = results.map((r) => r.logprob)
    correct.push(scores.indexOf(Math.max(...scores)) === s.answerIndex)
    exact.push(results[s.answerIndex].isGreedy)
    answerLogprob.push(scores[s.answerIndex])
  }
  return {correct, exact, answerLogprob}
}

const samples = () => generateSamples(kvRetrieval, {seed: 3, count: 6, pairs: 12})

describe('scoreChoices', () => {
  it('gives lm-evaluation-harness accuracy and answer log-likelihoods, for several ablations in one batch', async () => {
    const variants: HeadId[][] = [[], [[0, 1]], [[1, 3], [0, 0]]]
    const items = tokenizeItems(tok, samples())
    const outcomes = await scoreChoices(variants.flatMap((variant) => items.map((item) => ({item, variant}))), ablationRunner(model))
    for (const [v, variant] of variants.entries()) {
      const ref = await reference(variant)
      const mine = outcomes.slice(v * items.length, (v + 1) * items.length)
      expect(mine.map((o) => o.correct)).toEqual(ref.correct)
      expect(mine.map((o) => o.exactCorrect)).toEqual(ref.exact)
      mine.forEach((o, i) => expect(o.answerLogprob).toBeCloseTo(ref.answerLogprob[i], 4))
    }
    // The random model gets some wrong, so second-pass rows ran.
    expect(outcomes.some((o) => !o.correct)).toBe(true)
  })

  it('exact accuracy needs every answer token to be the argmax, and escapes the prefix bias of log-likelihood', async () => {
    // Choices ' 5', ' 56' and ' 78' as tokens [5], [5, 6], [7, 8]; the answer is ' 56'.
    const item = {context: [1, 2], choices: [[5], [5, 6], [7, 8]], answer: 1}
    const row = (best: number) => Float32Array.from({length: 10}, (_, i) => Math.log(i === best ? 0.9 : 0.1 / 9))
    // A runner that scores on the host: the asked targets' log-probs and the argmax of the whole row.
    const scores = (full: Float32Array, tokens: number[]) => ({tokens, logprobs: Float32Array.from(tokens, (t) => full[t]), argmax: full.indexOf(Math.max(...full))})
    const runner = (secondBest: number) => async (rows: {positions: number[]; targets: number[][]}[]) => rows.map((r) => r.positions.map((_, i) => scores(row(i === 0 ? 5 : secondBest), r.targets[i])))
    const [right] = await scoreChoices([{item, variant: null}], runner(6))
    // ' 5' scores log 0.9 > log 0.9 + log 0.9: log-likelihood prefers the prefix, greedy decoding writes ' 56'.
    expect(right).toMatchObject({correct: false, argmaxCorrect: true, exactCorrect: true})
    const [wrongSecond] = await scoreChoices([{item, variant: null}], runner(9))
    expect(wrongSecond).toMatchObject({argmaxCorrect: true, exactCorrect: false})
  })

  it('mean ablation with zero means is zero ablation, and real means change the scores', async () => {
    const items = tokenizeItems(tok, samples())
    const {numLayers, numHeads, headDim} = model.config
    const requests = items.map((item) => ({item, variant: [[1, 2]] as HeadId[]}))
    const zero = await scoreChoices(requests, ablationRunner(model))
    const zeroMeans = Array.from({length: numLayers}, () => new Float32Array(numHeads * headDim))
    const viaMean = await scoreChoices(requests, ablationRunner(model, {mode: 'mean', means: zeroMeans}))
    viaMean.forEach((o, i) => expect(o.answerLogprob).toBeCloseTo(zero[i].answerLogprob, 5))
    const ones = zeroMeans.map((m) => m.map(() => 1))
    const shifted = await scoreChoices(requests, ablationRunner(model, {mode: 'mean', means: ones}))
    expect(shifted.some((o, i) => Math.abs(o.answerLogprob - zero[i].answerLogprob) > 1e-3)).toBe(true)
  })
})
