import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {fromArray, scopeAsync} from '../../src/engine/tensor.js'
import {SafetensorsFile} from '../../src/io/safetensors/reader.js'
import {loadModel, type LoadedModel} from '../../src/models/load-model.js'
import type {MixerKind} from '../../src/models/mixers/mixer.js'
import {TeacherModel} from '../../src/models/teacher.js'
import {rewrite} from '../../src/rewrite/rewrite.js'
import {webgpuBackend} from '../helpers/backends.js'
import {fixtureReference} from '../helpers/paths.js'
import {Rng} from '../helpers/random.js'
import {writeHeadsJson} from '../rewrite/helpers.js'

const teachers = [join(fixtureReference, 'llama-tiny'), join(fixtureReference, 'phi-tiny'), join(fixtureReference, 'llama-tied-headdim'), join(fixtureReference, 'llama-rope-llama3')]

/** Hybrids of the reference Llama and Phi: every layer kind (SSM, attention, SSM beside kept heads) with every mixer. */
const hybrids: {name: string; teacher: string; mixer: MixerKind; keep: [number, number][]}[] = [
  {name: 'llama discrete-mamba2: hybrid + ssm layers', teacher: join(fixtureReference, 'llama-tiny'), mixer: 'discrete-mamba2', keep: [[0, 1], [0, 2]]},
  {name: 'llama mamba2: attention + hybrid layers', teacher: join(fixtureReference, 'llama-tiny'), mixer: 'mamba2', keep: [[0, 0], [0, 1], [0, 2], [0, 3], [1, 3]]},
  {name: 'phi mamba2: ssm + hybrid layers', teacher: join(fixtureReference, 'phi-tiny'), mixer: 'mamba2', keep: [[1, 0]]},
  {name: 'phi discrete-mamba2: hybrid + attention layers', teacher: join(fixtureReference, 'phi-tiny'), mixer: 'discrete-mamba2', keep: [[0, 2], [1, 0], [1, 1], [1, 2], [1, 3]]},
  {name: 'llama mamba3: hybrid + ssm layers', teacher: join(fixtureReference, 'llama-tiny'), mixer: 'mamba3', keep: [[0, 3]]},
]

async function referenceIds(folder: string): Promise<{ids: Int32Array; B: number; T: number}> {
  const file = await SafetensorsFile.open(join(folder, 'reference.safetensors'))
  try {
    const t = await file.read('input_ids')
    return {ids: t.data as Int32Array, B: t.shape[0], T: t.shape[1]}
  } finally {
    await file.close()
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

/**
 * Rewritten SSMs start from the teacher (an identity conv among others), which would hide a wrong
 * conv window: move every SSM weight by noise so each part of the state matters.
 */
async function perturbSsmWeights(model: LoadedModel, seed: number): Promise<void> {
  const rng = new Rng(seed)
  for (const [name, w] of model.weights) {
    if (!name.includes('.ssm.')) continue
    const data = await w.toFloat32()
    const noise = rng.floats(data.length, 0.2)
    model.backend.write(w.storage, data.map((x, i) => x + noise[i]))
  }
}

/**
 * Feed `ids` [B, T] in chunks through a cache sized for all of them: a prefill of 7 (all logits), a
 * chunk of 3 (last position only), then one token at a time; every chunk's logits must be the
 * parallel forward's at the same positions.
 */
async function expectCachedMatchesForward(model: LoadedModel, ids: Int32Array, B: number, T: number): Promise<number> {
  const backend = model.backend
  const V = model.vocabSize
  const full = await scopeAsync(async () => model.forward(fromArray(backend, ids, [B, T])).logits.toFloat32())
  const rows = (start: number, count: number): Int32Array => {
    const out = new Int32Array(B * count)
    for (let b = 0; b < B; b++) out.set(ids.subarray(b * T + start, b * T + start + count), b * count)
    return out
  }
  const fullRows = (start: number, count: number): Float32Array => {
    const out = new Float32Array(B * count * V)
    for (let b = 0; b < B; b++) out.set(full.subarray((b * T + start) * V, (b * T + start + count) * V), b * count * V)
    return out
  }
  const cache = model.newCache(B, T)
  const chunks = [{n: 7, lastOnly: false}, {n: 3, lastOnly: true}, ...Array.from({length: T - 10}, () => ({n: 1, lastOnly: false}))]
  let start = 0
  let worst = 0
  for (const {n, lastOnly} of chunks) {
    const got = await scopeAsync(async () => model.forwardCached(fromArray(backend, rows(start, n), [B, n]), cache, {lastOnly}).logits.toFloat32())
    worst = Math.max(worst, maxAbsDiff(got, lastOnly ? fullRows(start + n - 1, 1) : fullRows(start, n)))
    start += n
  }
  expect(cache.length).toBe(T)
  expect(() => model.forwardCached(fromArray(backend, rows(0, 1), [B, 1]), cache)).toThrow(/do not fit/)
  cache.dispose()
  for (const w of model.weights.values()) w.dispose()
  return worst
}

const backends: [string, () => Promise<Backend | undefined>][] = [['CPU', async () => new CpuBackend()], ['WebGPU', webgpuBackend]]

describe("cached decoding gives the parallel forward pass's logits (to 1e-4)", () => {
  for (const folder of [...teachers, join(fixtureReference, 'mamba2-tiny')]) {
    for (const [label, open] of backends) {
      it(`${folder.split('/').at(-1)} on ${label}`, async () => {
        const backend = await open()
        if (!backend) return
        const {ids, B, T} = await referenceIds(folder)
        const model = await loadModel(folder, backend)
        if (model instanceof TeacherModel) {
          const c = model.config
          const cache = model.newCache(B, T)
          expect(cache.bytesByKind()).toEqual({kv: c.numLayers * 2 * B * T * c.numKvHeads * c.headDim * 4, ssm: 0})
          cache.dispose()
        }
        expect(await expectCachedMatchesForward(model, ids, B, T)).toBeLessThan(1e-4)
      })
    }
  }

  describe('hybrids', () => {
    let root: string
    const folders = new Map<string, string>()
    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'hybridize-decode-'))
      for (const [i, h] of hybrids.entries()) {
        const cfg = JSON.parse(await readFile(join(h.teacher, 'config.json'), 'utf8'))
        const heads = await writeHeadsJson(root, h.teacher, cfg.num_hidden_layers, cfg.num_attention_heads, h.keep, `h${i}.heads.json`)
        const out = join(root, `h${i}`)
        await rewrite({teacherFolder: h.teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: h.mixer, dState: 8}, out, command: 'test'})
        folders.set(h.name, out)
      }
    })
    afterAll(() => rm(root, {recursive: true, force: true}))

    for (const [i, h] of hybrids.entries()) {
      for (const [label, open] of backends) {
        it(`${h.name} on ${label}`, async () => {
          const backend = await open()
          if (!backend) return
          const {ids, B, T} = await referenceIds(h.teacher)
          const model = await loadModel(folders.get(h.name)!, backend)
          await perturbSsmWeights(model, 100 + i)
          expect(await expectCachedMatchesForward(model, ids, B, T)).toBeLessThan(1e-4)
        })
      }
    }
  })
})
