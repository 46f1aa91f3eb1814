import {existsSync, readFileSync} from 'node:fs'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CpuBackend, distill, evaluate, findHeads, rewrite} from '../src/index.js'
import {brownTexts} from '../src/tasks/brown.js'

/**
 * hybridize from code, as README's "From code" shows it: the four library functions src/index.ts
 * exports, chained on the phi-tiny fixture at tiny settings (find the heads, rewrite, distil, evaluate).
 */
const TEACHER = 'fixtures/phi-tiny'
let dir: string
let text: string
const backend = new CpuBackend({description: 'cpu (library test)'})

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-library-'))
  text = join(dir, 'corpus.txt')
  await writeFile(text, brownTexts().slice(0, 2).join('\n\n'))
})
afterAll(async () => {
  backend.destroy()
  await rm(dir, {recursive: true, force: true})
})

describe('the library (src/index.ts)', () => {
  it('findHeads -> rewrite -> distill -> evaluate, each from a model reference', async () => {
    const status: string[] = []
    const heads = await findHeads({model: TEACHER, samples: 4, pairs: 4, randomDraws: 0, select: {topK: 2}, out: join(dir, 'heads.json'), device: 'cpu', status: (t) => status.push(t)})
    expect(status).toContain('device: cpu: --device cpu')
    expect(heads.result.selected).toHaveLength(2)
    expect(heads.result.heads).toHaveLength(6 * 8)
    const written = JSON.parse(readFileSync(heads.files!.json, 'utf8'))
    expect(written.selected).toEqual(heads.result.selected)
    expect(written.model).toEqual(heads.heads.model)
    expect(written.model).toMatchObject({id: TEACHER, revision: null, weights_sha256: expect.stringMatching(/^[0-9a-f]{64}$/)})
    expect(existsSync(heads.files!.svg)).toBe(true)

    const student = join(dir, 'student')
    const hybrid = await rewrite({teacher: TEACHER, heads: heads.files!.json, out: student})
    expect(hybrid.keptHeads).toEqual(heads.result.selected)
    expect(existsSync(join(student, 'config.json'))).toBe(true)

    const run = join(dir, 'run')
    const steps: number[] = []
    const distilled = await distill({
      out: run,
      settings: {teacher: TEACHER, student, data: text, stages: [1, 3], tokens: [32, 32], batchSize: 1, seqLen: 32, saveEvery: 1},
      device: backend,
      progress: (m) => steps.push(m.step),
    })
    expect(distilled.completed).toBe(true)
    expect(distilled.losses.map((l) => l.stage)).toEqual([1, 3])
    expect(distilled.losses.every((l) => Number.isFinite(l.first) && Number.isFinite(l.last))).toBe(true)
    expect(steps).toEqual([1, 1])
    expect(existsSync(join(run, 'student', 'config.json'))).toBe(true)

    const scored = await evaluate({models: [TEACHER, join(run, 'student')], tasks: `ppl:${text}`, limit: 2, seqLen: 32, device: backend})
    expect(scored.runs.map((r) => r.model)).toEqual([TEACHER, join(run, 'student')])
    for (const r of scored.runs) {
      const ppl = r.results[0].metrics['word_perplexity,none'] as number
      expect(ppl).toBeGreaterThan(1)
      expect(Number.isFinite(ppl)).toBe(true)
    }
    expect(scored.files).toEqual([])
  }, 120_000)
})
