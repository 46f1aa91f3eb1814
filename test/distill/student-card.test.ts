import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readMetrics} from '../../src/distill/metrics.js'
import {runTiny, tinySettings} from './harness.js'
import {writeTinyPair} from './tiny-models.js'

/** The distilled student's README.md and provenance.json describe the student, not the hybrid it started as. */
let dir: string
let dirs: Awaited<ReturnType<typeof writeTinyPair>>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-student-card-'))
  dirs = await writeTinyPair(dir)
  // What `hybridize rewrite` leaves in a BF16 hybrid's folder.
  await writeFile(join(dirs.student, 'README.md'), '# Hybrid of x\n\nnot yet distilled: run `hybridize distill`\n\n- Weights: BF16 safetensors\n')
  await writeFile(join(dirs.student, 'provenance.json'), JSON.stringify({tool: 'hybridize rewrite', heads: {sha256: 'abc'}}))
})

afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('the distilled student folder', () => {
  it('has a model card and provenance of the student: teacher, heads kept, stages, tokens, data, final losses, F32', async () => {
    const out = join(dir, 'run')
    const settings = tinySettings(dirs, {stages: [1, 3], tokens: [256, 512], lr: [1e-2, 3e-3], mix: 'kv-retrieval:0.3'})
    const {outcome} = await runTiny(settings, out)
    expect(outcome.completed).toBe(true)
    const metrics = await readMetrics(out)
    const last = (stage: number) => metrics.filter((m) => m.stage === stage).at(-1)!

    const card = await readFile(join(out, 'student/README.md'), 'utf8')
    expect(card).not.toMatch(/not yet distilled|BF16/)
    expect(card).toMatch(/^# Distilled hybrid of .*teacher\n/)
    expect(card).toContain(`from the teacher \`${dirs.teacher}\``)
    expect(card).toMatch(/keeping 1 of the\nteacher's 8 attention heads \(12\.5%\) as attention \(layer\.head: 0\.1\)/)
    expect(card).toContain('- Weights: F32 safetensors.')
    expect(card).toContain(`- Data: \`${dirs.text}\`, mixed with synthetic task rows (\`--mix kv-retrieval:0.3\`)`)
    expect(card).toContain(`| 1 | matrix orientation | 256 | 2 | 0.01 | mixing-matrix error (Frobenius) | ${metrics[0].loss.toPrecision(4)} | ${last(1).loss.toPrecision(4)} |`)
    expect(card).toContain(`| 3 | end-to-end distillation | 512 | 4 | 0.003 | distillation loss |`)
    expect(card).toContain(`| ${last(3).loss.toPrecision(4)} |`)
    expect(card).toMatch(/## Memory per sequence at 4096 tokens \(F32\)/)

    const provenance = JSON.parse(await readFile(join(out, 'student/provenance.json'), 'utf8'))
    expect(provenance).toMatchObject({
      tool: 'hybridize distill',
      teacher: {id: dirs.teacher, revision: null},
      student: dirs.student,
      heads: {kept: [[0, 1]], total: 8},
      dtype: 'F32',
      distillation: {data: dirs.text, mix: 'kv-retrieval:0.3', batch_size: 2, seq_len: 32, grad_accum: 2, seed: 3},
      hybrid: {tool: 'hybridize rewrite', heads: {sha256: 'abc'}},
    })
    expect(provenance.distillation.stages.map((s: {stage: number; tokens: number; final_loss: number}) => [s.stage, s.tokens, s.final_loss])).toEqual([
      [1, 256, last(1).loss],
      [3, 512, last(3).loss],
    ])
  })

  it('is written even when the hybrid\'s provenance.json is damaged (the run is not lost at its end)', async () => {
    await writeFile(join(dirs.student, 'provenance.json'), '{"tool": "hybridize rew')
    const out = join(dir, 'damaged')
    const {outcome} = await runTiny(tinySettings(dirs, {stages: [3], tokens: [256], lr: [3e-3]}), out)
    expect(outcome.completed).toBe(true)
    expect(JSON.parse(await readFile(join(out, 'student/provenance.json'), 'utf8'))).toMatchObject({tool: 'hybridize distill', hybrid: null})
  })
})
