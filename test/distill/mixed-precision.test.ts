import {mkdir, mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import type {TrainingState} from '../../src/distill/checkpoint.js'
import {readMetrics} from '../../src/distill/metrics.js'
import {readRunSettings, runFile} from '../../src/distill/run-file.js'
import {runTiny, tinySettings} from './harness.js'
import {writeTinyPair} from './tiny-models.js'

let dir: string
let dirs: Awaited<ReturnType<typeof writeTinyPair>>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-mixed-'))
  dirs = await writeTinyPair(dir)
})

const stage3 = (steps: number, over: Parameters<typeof tinySettings>[1] = {}) => tinySettings(dirs, {stages: [3], tokens: [128 * steps], lr: [3e-3], saveEvery: 1000, ...over})

describe('distill --precision mixed', () => {
  it('stages 1, 2, 3 of the tiny pair, 20 steps each: the mixed losses track the f32 losses within 1e-3 relative at every step, the gradient norms within 1 %', async () => {
    const f32 = join(dir, 'f32')
    const mixed = join(dir, 'mixed')
    const all = (precision: 'f32' | 'mixed') => tinySettings(dirs, {stages: [1, 2, 3], tokens: [128 * 20, 128 * 20, 128 * 20], saveEvery: 1000, precision})
    await runTiny(all('f32'), f32)
    await runTiny(all('mixed'), mixed)
    const [a, b] = [await readMetrics(f32), await readMetrics(mixed)]
    expect(b).toHaveLength(60)
    // Measured: at most 2.1e-4 (stage 3), 1.3e-4 (stage 2), 6.8e-5 (stage 1). f16 operands round each product by
    // about 2^-11 = 4.9e-4, and a loss is a mean over many; the bound leaves 5x the drift of 60 steps and would
    // catch a run that skips or mis-scales steps (each one a step behind f32 from then on).
    b.forEach((m, i) => {
      expect([m.stage, m.step]).toEqual([a[i].stage, a[i].step])
      expect(Math.abs(m.loss - a[i].loss) / a[i].loss, `stage ${m.stage} step ${m.step}: loss`).toBeLessThan(1e-3)
      expect(Math.abs(m.grad_norm! - a[i].grad_norm!) / a[i].grad_norm!, `stage ${m.stage} step ${m.step}: gradient norm`).toBeLessThan(1e-2)
    })
    // The two are not the same computation: mixed really rounds.
    expect(b.some((m, i) => m.loss !== a[i].loss)).toBe(true)
    expect(b.every((m) => m.scale === 65536 && !m.skipped)).toBe(true)
    expect(a.every((m) => m.scale === undefined)).toBe(true)
    const card = await readFile(join(mixed, 'student/README.md'), 'utf8')
    expect(card).toMatch(/- Precision: mixed .*dynamic loss scaling; 0 step\(s\) skipped/)
    const provenance = JSON.parse(await readFile(join(mixed, 'student/provenance.json'), 'utf8'))
    expect(provenance.distillation).toMatchObject({precision: 'mixed', skipped_steps: 0})
    expect((await readRunSettings(mixed)).precision).toBe('mixed')
  })

  it('a resumed run continues at the saved scale; an overflowing step is skipped, logged, and halves the scale', async () => {
    const out = join(dir, 'resumed')
    const settings = stage3(30, {precision: 'mixed', saveEvery: 2})
    await runTiny(settings, out, {stopAfter: 2})
    const stateFile = join(out, 'checkpoints/stage3-step2/state.json')
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as TrainingState
    expect(state.lossScale).toEqual({scale: 65536, growthTracker: 2})
    // A scale far too large: the scaled gradients overflow f16 until it has come down.
    await writeFile(stateFile, JSON.stringify({...state, lossScale: {scale: 2 ** 40, growthTracker: 1}}))
    const {outcome} = await runTiny(settings, out, {resume: true})
    expect(outcome.completed).toBe(true)
    const rows = (await readMetrics(out)).slice(2)
    expect(rows[0]).toMatchObject({step: 3, scale: 2 ** 40, skipped: true, grad_norm: null})
    for (let i = 1; i < rows.length; i++) expect(rows[i].scale, `step ${rows[i].step}`).toBe(rows[i - 1].skipped ? rows[i - 1].scale! / 2 : rows[i - 1].scale)
    const skipped = rows.filter((m) => m.skipped).length
    expect(skipped).toBeGreaterThan(1)
    expect(skipped).toBeLessThan(rows.length)
    expect((await readFile(join(out, 'metrics.jsonl'), 'utf8')).split('\n')[2]).toContain('"grad_norm":null')
    // The optimizer stepped only on the steps not skipped.
    const last = JSON.parse(await readFile(join(out, 'checkpoints/stage3-step30/state.json'), 'utf8')) as TrainingState
    expect(last.optimizerStep).toBe(30 - skipped)
    const provenance = JSON.parse(await readFile(join(out, 'student/provenance.json'), 'utf8'))
    expect(provenance.distillation.skipped_steps).toBe(skipped)
  })

  it('run.json from before --precision reads as f32; an unknown precision is refused', async () => {
    const out = join(dir, 'old-run')
    const old: Record<string, unknown> = {...stage3(1)}
    delete old.precision
    await mkdir(out, {recursive: true})
    await writeFile(runFile(out), JSON.stringify({format: 'hybridize-distill-run', version: 1, settings: old}))
    expect((await readRunSettings(out)).precision).toBe('f32')
    await writeFile(runFile(out), JSON.stringify({format: 'hybridize-distill-run', version: 1, settings: {...old, precision: 'bf16'}}))
    await expect(readRunSettings(out)).rejects.toThrow(/precision 'bf16' is not one of f32, mixed/)
  })
})
