import {mkdtemp, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {readMetrics, type StepMetrics} from '../../src/distill/metrics.js'
import {runTiny, tinySettings} from './harness.js'
import {writeTinyPair} from './tiny-models.js'

let dir: string
let dirs: Awaited<ReturnType<typeof writeTinyPair>>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-resume-parquet-'))
  dirs = await writeTinyPair(dir)
})

const trajectory = (ms: StepMetrics[]) => ms.map(({stage, step, tokens, loss, layer_loss, lr, grad_norm}) => ({stage, step, tokens, loss, layer_loss, lr, grad_norm}))

describe('resume over parquet data', () => {
  it('an interrupted run over a folder of parquet shards sees the batches of an uninterrupted one', async () => {
    // Two shards of several row groups each; the run passes row-group, shard and epoch boundaries.
    const data = resolve(import.meta.dirname, '../data/fixtures/shards')
    const settings = tinySettings({...dirs, text: data}, {saveEvery: 3})
    const whole = join(dir, 'whole')
    expect((await runTiny(settings, whole)).outcome.completed).toBe(true)
    const cut = join(dir, 'cut')
    expect((await runTiny(settings, cut, {stopAfter: 5})).outcome.completed).toBe(false)
    expect((await runTiny(settings, cut, {resume: true})).outcome.completed).toBe(true)
    const expected = trajectory(await readMetrics(whole))
    expect(expected).toHaveLength(12)
    expect(trajectory(await readMetrics(cut))).toEqual(expected)
    const weights = async (out: string) => readFile(join(out, 'student/model.safetensors'))
    expect((await weights(cut)).equals(await weights(whole))).toBe(true)
  })
})
