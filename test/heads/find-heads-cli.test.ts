import {existsSync, readFileSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {fromArray} from '../../src/engine/tensor.js'
import {FIXTURE_SPECS} from '../../src/fixtures/specs.js'
import {headsFileSchema} from '../../src/heads/heads-schema.js'
import {initialWeights} from '../../src/fixtures/init-weights.js'
import {writeFixture} from '../../src/fixtures/write-fixture.js'
import {parseTeacherConfig} from '../../src/models/config.js'
import {TeacherModel} from '../../src/models/teacher.js'
import {trainBpe} from '../../src/tokenizer/train-bpe.js'
import {tokenizerTrainingTexts} from '../../src/tokenizer/training-corpus.js'
import {cpuBackend} from '../helpers/backends.js'
import {runCli} from '../helpers/cli.js'

/**
 * The find-heads command on untrained fixture-shaped teachers (written as a fixture folder here, so
 * the test does not depend on how well the committed fixtures retrieve): files, --json, colour, errors.
 */
let out: string

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'hybridize-find-heads-'))
  const bpe = trainBpe(tokenizerTrainingTexts({seed: 0, samplesPerTask: 60, brownDocuments: 5}), {vocabSize: 400})
  const backend = cpuBackend()
  for (const spec of FIXTURE_SPECS) {
    const config = spec.config(400, {bos: 398, eos: 398, pad: 399})
    const weights = new Map([...initialWeights(parseTeacherConfig(config), spec.seed, spec.initStd)].map(([name, w]) => [name, fromArray(backend, w.data, w.shape)]))
    const model = new TeacherModel(parseTeacherConfig(config), weights, backend)
    await writeFixture(join(out, spec.name), {config, model, tokenizer: bpe, log: [], training: {}})
  }
})
afterAll(async () => {
  await rm(out, {recursive: true, force: true})
})

describe('hybridize find-heads', () => {
  it('writes heads.json and its heatmap, prints the ranking, and returns the same JSON with --json (greedy selection)', () => {
    const file = join(out, 'heads.json')
    const r = runCli(['find-heads', join(out, 'llama-tiny'), '--samples', '4', '--pairs', '4', '--top-k', '2', '--selection', 'greedy', '--random-draws', '2', '--device', 'cpu', '--out', file, '--json'])
    expect(r.status, r.stderr).toBe(0)
    const printed = JSON.parse(r.stdout)
    const written = JSON.parse(readFileSync(file, 'utf8'))
    // The schema `hybridize schema heads` prints, and rewrite reads with, takes what find-heads writes.
    expect(headsFileSchema.safeParse(written).error).toBeUndefined()
    expect(printed.selected).toEqual(written.selected)
    expect(written.selected).toHaveLength(2)
    const spec = FIXTURE_SPECS.find((f) => f.name === 'llama-tiny')!.config(400, {bos: 398, eos: 398, pad: 399})
    const layers = spec.num_hidden_layers as number
    const heads = spec.num_attention_heads as number
    expect(written.model).toMatchObject({id: join(out, 'llama-tiny'), revision: null, layers, heads, kv_heads: spec.num_key_value_heads})
    expect(written.method.select).toEqual({top_k: 2, selection: 'greedy'})
    // The greedy curve ends at the accuracy with both selected heads ablated: the same rows, scored twice.
    expect(written.greedy_curve.map((c: {heads: number}) => c.heads)).toEqual([1, 2])
    expect(written.greedy_curve[1].acc).toBe(written.selected_ablated.acc)
    expect(written.greedy_curve[0].acc).toBe(written.heads[0].acc)
    expect(written.model.weights_sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(written.task).toEqual({name: 'kv-retrieval', pairs: 4, samples: 4, seed: 0})
    // Every head carries its Gather/Aggregate label (null when neither), and the rule is recorded.
    expect(written.heads.every((h: {label?: unknown}) => h.label === null || h.label === 'gather' || h.label === 'aggregate')).toBe(true)
    expect(written.method.labels).toMatch(/^gather: gather >= 0\.5; aggregate: aggregate >= 0\.5/)
    expect(written.random_ablated.draws).toHaveLength(2)
    expect(written.heads).toHaveLength(layers * heads)
    for (const h of written.heads) {
      expect(Object.keys(h).sort()).toEqual(['acc', 'aggregate', 'answer_segment', 'drop', 'gather', 'head', 'kv_head', 'label', 'layer', 'logprob_drop', 'rank'])
      // Attention masses: the answer segment's final token is part of the answer segment.
      expect(h.gather).toBeGreaterThanOrEqual(0)
      expect(h.gather).toBeLessThanOrEqual(1)
      expect(h.aggregate).toBeLessThanOrEqual(h.answer_segment + 1e-4)
      expect(h.answer_segment).toBeLessThanOrEqual(1)
    }
    expect(Object.keys(written.scores)).toHaveLength(layers * heads)
    expect(readFileSync(join(out, 'heads.svg'), 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*<\/svg>\n$/)
  })

  it('prints a ranked table and a heatmap without colour under NO_COLOR', () => {
    const file = join(out, 'plain.json')
    const r = runCli(['find-heads', join(out, 'phi-tiny'), '--samples', '4', '--pairs', '4', '--random-draws', '0', '--device', 'cpu', '--out', file])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^rank\s+layer\s+head/m)
    expect(r.stdout).toMatch(/layer\\head/)
    expect(r.stdout).not.toMatch(/\x1b\[/)
    expect(existsSync(join(out, 'plain.svg'))).toBe(true)
  })

  it('refuses an output path under a file before doing any work, in one line', () => {
    const blocker = join(out, 'llama-tiny', 'config.json')
    const r = runCli(['find-heads', join(out, 'llama-tiny'), '--device', 'cpu', '--out', join(blocker, 'heads.json')])
    expect(r.status).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/a file is in the way of the output folder .*config\.json/)
    expect(r.stderr).not.toMatch(/ablating/)
  })

  it('rejects a budget that is not a fraction or percentage', () => {
    const r = runCli(['find-heads', join(out, 'llama-tiny'), '--budget', '150%', '--device', 'cpu', '--out', join(out, 'x.json')])
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(/--budget/)
    expect(existsSync(join(out, 'x.json'))).toBe(false)
  })
})
