import {existsSync} from 'node:fs'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import type {BatchStream} from '../../src/data/batches.js'
import {hybridStudent} from '../../src/distill/hybrid-student.js'
import {runStage, trainUnits} from '../../src/distill/loop.js'
import {planMemory} from '../../src/distill/memory-plan.js'
import {STAGES} from '../../src/distill/run.js'
import {loadHybrid} from '../../src/models/hybrid.js'
import {parseTeacherConfig} from '../../src/models/config.js'
import {parseHybridConfig} from '../../src/models/hybrid-config.js'
import {loadTeacher, readConfigJson} from '../../src/models/load.js'
import {runCli} from '../helpers/cli.js'
import {tinySettings} from './harness.js'
import {writeTinyPair} from './tiny-models.js'

/**
 * `distill --dry-run`'s memory plan against what the CPU backend really allocates for one step of
 * each stage of the tiny pair (2 micro-batches, pieces cut at a small binding limit): the peak, the
 * largest tensor and the weights agree within 1 %.
 */
let dirs: Awaited<ReturnType<typeof writeTinyPair>>

beforeAll(async () => {
  dirs = await writeTinyPair(await mkdtemp(join(tmpdir(), 'hybridize-memplan-')))
})

const BINDING = 16 * 1024

async function measured(stage: 1 | 2 | 3): Promise<{peak: number; largest: number; weights: number}> {
  const backend = new CpuBackend({maxBindingBytes: BINDING})
  const teacher = await loadTeacher(dirs.teacher, backend)
  const model = await loadHybrid(dirs.student, backend)
  const weights = backend.memory.liveBytes
  const largestWeight = backend.memory.largestBytes
  const student = hybridStudent(model)
  const settings = tinySettings(dirs, {stages: [stage]})
  const def = STAGES[stage]
  const requested = {student, teacher, settings, layers: [0, 1]}
  const units = trainUnits(def, requested)
  const ctx = def.perLayer ? {...requested, layers: units.map((u) => u.layer!)} : requested
  const data = {next: async (rows: number) => new Int32Array(rows * settings.seqLen)} as unknown as BatchStream
  backend.resetPeak()
  await runStage({def, ctx, data, units, steps: 1, lr: 1e-3, firstStep: 0, afterStep: async () => true})
  return {peak: backend.memory.peakBytes, largest: Math.max(largestWeight, backend.memory.largestBytes), weights}
}

describe('distill memory plan', () => {
  it('matches the CPU backend’s allocations for each stage within 1 %', async () => {
    const plan = await planMemory(parseTeacherConfig(await readConfigJson(dirs.teacher)), parseHybridConfig(await readConfigJson(dirs.student)), tinySettings(dirs, {stages: [1, 2, 3]}), BINDING)
    expect(plan.map((p) => p.stage)).toEqual([1, 2, 3])
    for (const p of plan) {
      const real = await measured(p.stage)
      console.log(`stage ${p.stage}: plan peak ${p.peakBytes} largest ${p.largestBytes}; CPU peak ${real.peak} largest ${real.largest}`)
      expect(p.weightsBytes).toBe(real.weights)
      expect(Math.abs(p.peakBytes - real.peak)).toBeLessThanOrEqual(0.01 * real.peak)
      expect(Math.abs(p.largestBytes - real.largest)).toBeLessThanOrEqual(0.01 * real.largest)
      expect(p.optimizerBytes).toBeGreaterThan(0)
    }
  })
})

describe('distill --dry-run', () => {
  it('prints each stage’s plan (and --json gives it), loading and writing nothing', async () => {
    const out = join(dirs.student, '..', 'dry-run-out')
    const args = ['distill', dirs.student, '--teacher', dirs.teacher, '--data', dirs.text, '--batch-size', '2', '--seq-len', '32', '--out', out, '--dry-run']
    const text = runCli(args)
    expect(text.status, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^stage 1: peak [\d.]+ KiB \(weights [\d.]+ KiB, AdamW moments [\d.]+ KiB\), largest tensor [\d.]+ KiB$/m)
    expect(text.stdout).toMatch(/^stage 3: peak /m)
    const json = runCli([...args, '--json'])
    expect(json.status, json.stderr).toBe(0)
    const result = JSON.parse(json.stdout) as {dryRun: boolean; stages: {stage: number; peakBytes: number; weightsBytes: number}[]}
    expect(result.stages.map((s) => s.stage)).toEqual([1, 2, 3])
    for (const s of result.stages) expect(s.peakBytes).toBeGreaterThan(s.weightsBytes)
    expect(existsSync(out)).toBe(false)
  })
})
