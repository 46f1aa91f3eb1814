import {mkdtemp, readFile, readdir} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {readMetrics, type StepMetrics} from '../../src/distill/metrics.js'
import {runTiny, tinySettings} from './harness.js'
import {writeTinyPair} from './tiny-models.js'

let dir: string
let dirs: Awaited<ReturnType<typeof writeTinyPair>>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-resume-'))
  dirs = await writeTinyPair(dir)
})

/** What must not depend on interruptions (timings may). */
const trajectory = (ms: StepMetrics[]) => ms.map(({stage, step, tokens, loss, layer_loss, lr, grad_norm}) => ({stage, step, tokens, loss, layer_loss, lr, grad_norm}))

describe('resume', () => {
  it('continues exactly: a run interrupted twice has the losses and final weights of an uninterrupted one', async () => {
    // Gradient accumulation, an odd save interval, and retrieval rows in the data, so every piece of state counts.
    const settings = tinySettings(dirs, {saveEvery: 3, mix: 'kv-retrieval:0.3'})
    const whole = join(dir, 'whole')
    const { outcome } = await runTiny(settings, whole)
    expect(outcome.completed).toBe(true)

    const cut = join(dir, 'cut')
    const first = await runTiny(settings, cut, {stopAfter: 5})
    expect(first.outcome).toMatchObject({completed: false, stage: 2, step: 1})
    expect((await readFile(join(cut, 'checkpoints/last'), 'utf8')).trim()).toBe('stage2-step1')
    const second = await runTiny(settings, cut, {stopAfter: 4, resume: true})
    expect(second.outcome).toMatchObject({completed: false, stage: 3, step: 1})
    const third = await runTiny(settings, cut, {resume: true})
    expect(third.outcome.completed).toBe(true)

    const expected = trajectory(await readMetrics(whole))
    expect(expected).toHaveLength(12)
    expect(trajectory(await readMetrics(cut))).toEqual(expected)
    const weights = async (out: string) => readFile(join(out, 'student/model.safetensors'))
    expect((await weights(cut)).equals(await weights(whole))).toBe(true)
    expect((await readdir(join(cut, 'student'))).sort()).toEqual(['README.md', 'config.json', 'model.safetensors', 'provenance.json', 'tokenizer.json', 'tokenizer_config.json'])
  })
})
