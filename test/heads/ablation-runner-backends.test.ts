import {describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {fromArray} from '../../src/engine/tensor.js'
import {initialWeights} from '../../src/fixtures/init-weights.js'
import {ablationRunner, type HeadId} from '../../src/heads/ablation-runner.js'
import type {PositionScores, ScoreRow} from '../../src/heads/choice-scoring.js'
import {parseTeacherConfig} from '../../src/models/config.js'
import {TeacherModel} from '../../src/models/teacher.js'
import {cpuBackend, webgpuBackend} from '../helpers/backends.js'

/**
 * find-heads' runner picks each position's target log-probs and argmax on the device (a log-softmax,
 * a gather through embedding(), sample-rows at temperature 0): WebGPU must give the CPU's scores, with
 * rows ablated at different layers in one call and targets of different counts per position.
 */
const config = parseTeacherConfig({
  model_type: 'llama', vocab_size: 3000, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-5, tie_word_embeddings: true,
})
const modelOn = (backend: Backend, broken?: string) =>
  new TeacherModel(config, new Map([...initialWeights(config, 5, 0.5)].map(([name, w]) => [name, fromArray(backend, name === broken ? w.data.map(() => NaN) : w.data, w.shape)])), backend)
const ids = Array.from({length: 12}, (_, i) => (i * 977 + 13) % 3000)
const rows: ScoreRow<readonly HeadId[]>[] = [
  {ids, positions: [4, 11], targets: [[7, 2999, 0], [5]], variant: []},
  {ids, positions: [11], targets: [[5, 1234]], variant: [[0, 1]]},
  {ids: ids.slice(0, 9), positions: [2, 5, 8], targets: [[1], [2, 3], [2999, 4, 5, 6]], variant: [[1, 3]]},
]

describe('ablationRunner: targets and argmax picked on the device', () => {
  it('WebGPU gives the CPU scores', async (ctx) => {
    const gpu = await webgpuBackend()
    if (!gpu) return ctx.skip()
    const onCpu = await ablationRunner(modelOn(cpuBackend()))(rows)
    const onGpu = await ablationRunner(modelOn(gpu))(rows)
    const flat = (r: PositionScores[][]) => r.flat()
    expect(flat(onGpu).map((s) => s.tokens)).toEqual(rows.flatMap((r) => r.targets))
    flat(onCpu).forEach((c, i) => {
      const g = flat(onGpu)[i]
      expect(g.argmax).toBe(c.argmax)
      c.logprobs.forEach((v, j) => expect(g.logprobs[j]).toBeCloseTo(v, 4))
      // Real log-probs of a 3,000-token vocabulary, not zeros from a gather gone wrong.
      c.logprobs.forEach((v) => expect(v).toBeLessThan(-1))
    })
    // An ablation changes the scores of the row it is in.
    expect(flat(onCpu)[2].logprobs[0]).not.toBeCloseTo(flat(onCpu)[1].logprobs[0], 6)
  })
})

describe('ablationRunner: non-finite scores', () => {
  it('refuses a model whose logits are NaN, naming the value, without returning numbers', async () => {
    await expect(ablationRunner(modelOn(cpuBackend(), 'model.norm.weight'))(rows)).rejects.toThrow(/non-finite logit \(NaN in row 0, token 0\)/)
  })
})
