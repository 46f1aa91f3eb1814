import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {findHeads} from '../../src/api/find-heads.js'
import {noGrad} from '../../src/engine/autograd.js'
import {mul} from '../../src/engine/ops.js'
import {fromArray} from '../../src/engine/tensor.js'
import {logNormalizer} from '../../src/serve/sequence-logprobs.js'
import {ablationRunner} from '../../src/heads/ablation-runner.js'
import {headsModel, type HeadId} from '../../src/heads/head-layout.js'
import {HybridizeError} from '../../src/errors.js'
import {Mamba2Model} from '../../src/models/mamba2.js'
import {headsFileSchema} from '../../src/heads/heads-schema.js'
import {HybridModel} from '../../src/models/hybrid.js'
import {loadModel} from '../../src/models/load-model.js'
import {readHeadsFile} from '../../src/rewrite/heads-file.js'
import {rewrite} from '../../src/rewrite/rewrite.js'
import {cpuBackend} from '../helpers/backends.js'
import {runCli} from '../helpers/cli.js'
import {repoRoot} from '../helpers/paths.js'
import {writeHeadsJson} from '../rewrite/helpers.js'

/**
 * find-heads on hybrids and pure-SSM models: an SSM head is one of the mixer's heads, its slice of
 * the output projection's input; ablating it must equal a model whose out_proj columns for that
 * head are zero (the same product, reached through the weights instead of the hook).
 */
const teacher = resolve(repoRoot, 'fixtures/llama-tiny')
const backend = cpuBackend()
let root: string
let hybrid: string
let pureSsm: string
let mamba3Hybrid: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-ssm-heads-'))
  const heads = await writeHeadsJson(root, teacher, 6, 8, [[5, 6], [5, 7]])
  hybrid = join(root, 'hybrid')
  pureSsm = join(root, 'ssm')
  await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: 'discrete-mamba2'}, out: hybrid, command: 'test'})
  await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'keep', count: 0}, mixer: {kind: 'mamba2'}, out: pureSsm, command: 'test'})
  mamba3Hybrid = join(root, 'mamba3')
  await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: 'mamba3'}, out: mamba3Hybrid, command: 'test'})
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

async function loadHybrid(folder: string): Promise<HybridModel> {
  const model = await loadModel(folder, backend)
  if (!(model instanceof HybridModel)) throw new Error(`${folder} is not a hybrid`)
  return model
}

/** The same hybrid with layer l's out_proj columns of SSM head h zeroed. */
async function withHeadZeroed(model: HybridModel, l: number, h: number): Promise<HybridModel> {
  const name = `model.layers.${l}.ssm.out_proj.weight`
  const w = model.weight(name)
  const [C, inner] = w.shape
  const P = inner / model.mixers[l]!.heads
  const data = await w.toFloat32()
  for (let r = 0; r < C; r++) data.fill(0, r * inner + h * P, r * inner + (h + 1) * P)
  return new HybridModel(model.config, new Map([...model.weights, [name, fromArray(backend, data, [C, inner])]]), backend)
}

describe('find-heads: SSM heads', () => {
  it.each([
    ['discrete-mamba2 hybrid', () => hybrid],
    ['mamba2, no heads kept', () => pureSsm],
    ['mamba3 hybrid', () => mamba3Hybrid],
  ])('%s: ablating SSM head h equals zeroing its slice of out_proj\'s input, in a plain SSM layer and in the last', async (_, folder) => {
    const model = await loadHybrid(folder())
    const T = 12
    const ids = Int32Array.from({length: 2 * T}, (_, i) => (i * 37 + 5) % 4000)
    for (const [l, h] of [[2, 1], [5, 3]]) {
      const viaHook = await noGrad(() =>
        model.forward(fromArray(backend, ids, [2, T]), {
          ssmHeadOutputs: (layer, y) => {
            if (layer !== l) return y
            const [B, Tn, H, P] = y.shape
            const keep = new Float32Array(B * Tn * H * P).fill(1)
            for (let i = 0; i < B * Tn; i++) keep.fill(0, (i * H + h) * P, (i * H + h + 1) * P)
            return mul(y, fromArray(backend, keep, y.shape))
          },
        }),
      ).logits.toFloat32()
      const zeroed = await withHeadZeroed(model, l, h)
      const manual = await noGrad(() => zeroed.forward(fromArray(backend, ids, [2, T]))).logits.toFloat32()
      const plain = await noGrad(() => model.forward(fromArray(backend, ids, [2, T]))).logits.toFloat32()
      expect(Math.max(...viaHook.map((v, i) => Math.abs(v - manual[i])))).toBeLessThan(1e-6)
      // The head does something: the ablation is not a no-op.
      expect(Math.max(...viaHook.map((v, i) => Math.abs(v - plain[i])))).toBeGreaterThan(1e-4)

      // find-heads' batched runner (reusing the layers below l) gives the same log-probs.
      const positions = [3, 7, T - 1]
      const V = model.vocabSize
      // Every token asked for, in reverse order: the runner must return them in the order asked.
      const targets = positions.map(() => Array.from({length: V}, (_, j) => V - 1 - j))
      const [row] = await ablationRunner(model)([{ids: [...ids.subarray(0, T)], positions, targets, variant: [[l, h, 'ssm'] as HeadId]}])
      positions.forEach((p, i) => {
        const logits = manual.subarray(p * V, (p + 1) * V)
        const {logZ, argmax} = logNormalizer(logits)
        expect(Math.max(...targets[i].map((t, j) => Math.abs(row[i].logprobs[j] - (logits[t] - logZ))))).toBeLessThan(1e-5)
        expect(row[i].argmax).toBe(argmax)
      })
      // Mean ablation puts the given mean in the head's slice: zero means give the zero ablation, others do not.
      // Every layer's mixer has the same H·P: its out_proj's input width.
      const inner = model.weight(`model.layers.${l}.ssm.out_proj.weight`).shape[1]
      const means = (value: number) => model.mixers.map(() => new Float32Array(inner).fill(value))
      const rowWith = async (value: number) => (await ablationRunner(model, {mode: 'mean', means: [], ssmMeans: means(value)})([{ids: [...ids.subarray(0, T)], positions, targets, variant: [[l, h, 'ssm'] as HeadId]}]))[0]
      expect(await rowWith(0)).toEqual(row)
      expect((await rowWith(1))[2]).not.toEqual(row[2])
    }
  })

  it('find-heads on a hybrid (2 heads kept) ranks its attention and SSM heads, the same on a second run; rewrite refuses the file', () => {
    const file = join(root, 'hybrid-heads.json')
    const args = ['find-heads', hybrid, '--samples', '4', '--pairs', '4', '--top-k', '3', '--random-draws', '1', '--device', 'cpu', '--out', file]
    const r = runCli([...args, '--json'])
    expect(r.status, r.stderr).toBe(0)
    const printed = JSON.parse(r.stdout)
    const written = JSON.parse(readFileSync(file, 'utf8'))
    expect(headsFileSchema.safeParse(written).error).toBeUndefined()
    expect(printed.heads).toEqual(written.heads)
    // 6 layers: 5 SSM layers of 8 mixer heads, and layer 5 with its 2 kept heads beside its mixer's 8.
    const kinds = (written.heads as {kind: string}[]).map((h) => h.kind)
    expect(kinds).toHaveLength(50)
    expect(kinds.filter((k) => k === 'attention')).toHaveLength(2)
    expect(kinds.filter((k) => k === 'ssm')).toHaveLength(48)
    const attention = written.heads.filter((h: {kind: string}) => h.kind === 'attention')
    expect(attention.map((h: {layer: number; head: number}) => [h.layer, h.head]).sort()).toEqual([[5, 6], [5, 7]])
    for (const h of written.heads) {
      expect(Number.isFinite(h.drop) && Number.isFinite(h.logprob_drop)).toBe(true)
      // Only attention heads have patterns and labels; SSM heads are never labelled.
      if (h.kind === 'ssm') expect([h.gather, h.aggregate, h.answer_segment, h.label, h.kv_head]).toEqual([null, null, null, null, undefined])
      else expect(Number.isFinite(h.gather) && Number.isFinite(h.aggregate)).toBe(true)
    }
    expect(written.selected).toHaveLength(3)
    expect(written.selected.every((s: object) => 'kind' in s)).toBe(true)
    expect(written.method.labels).toContain('ssm heads: not labelled')
    expect(Object.keys(written.scores).sort()).toEqual(['5-6', '5-7'])
    expect(readFileSync(file.replace(/json$/, 'svg'), 'utf8')).toContain('S: SSM head')

    const text = runCli(args)
    expect(text.status, text.stderr).toBe(0)
    expect(text.stdout).toContain('ssm heads: not labelled')
    expect(text.stdout).toMatch(/\bssm\b/)
    expect(JSON.parse(readFileSync(file, 'utf8')).heads).toEqual(written.heads)

    const refused = runCli(['rewrite', teacher, '--heads', file, '--out', join(root, 'never')])
    expect(refused.status).not.toBe(0)
    expect(refused.stderr).toContain('scores the SSM heads of a hybrid')
    expect(refused.stderr).not.toMatch(/\n\s+at /)
  })

  it('find-heads on a pure-SSM model (no heads kept), with mean ablation', async () => {
    const {result, heads} = await findHeads({model: pureSsm, samples: 3, pairs: 3, select: {topK: 2}, randomDraws: 1, ablation: 'mean', device: 'cpu'})
    expect(result.heads).toHaveLength(48)
    expect(result.heads.every((h) => h.kind === 'ssm' && Number.isFinite(h.drop) && h.label === null)).toBe(true)
    expect(heads.selected).toHaveLength(2)
    await expect(findHeads({model: pureSsm, samples: 3, pairs: 3, select: {topK: 2}, selection: 'aggregate', device: 'cpu'})).rejects.toThrow(/has none/)
  })

  it('refuses a Mamba2ForCausalLM, which runs outside the decoder, in one line', () => {
    const mamba2 = Object.create(Mamba2Model.prototype) as Mamba2Model
    expect(() => headsModel(mamba2)).toThrow(HybridizeError)
    expect(() => headsModel(mamba2)).toThrow(/not supported yet/)
  })

  it('heads.json files without kinds read as before: every head attention', async () => {
    const old = await writeHeadsJson(root, teacher, 6, 8, [[1, 2], [3, 4]], 'old.json')
    const json = JSON.parse(readFileSync(old, 'utf8'))
    expect(headsFileSchema.safeParse(json).error).toBeUndefined()
    const file = await readHeadsFile(old)
    expect(file.selected).toEqual([[1, 2], [3, 4]])
    expect(file.ranking).toHaveLength(48)
    const hybridFile = join(root, 'kinds.json')
    await writeFile(hybridFile, JSON.stringify({...json, selected: [{layer: 1, head: 2, kind: 'attention'}], heads: json.heads.map((h: object) => ({...h, kind: 'attention'}))}))
    expect((await readHeadsFile(hybridFile)).selected).toEqual([[1, 2]])
  })
})
