import {spawn} from 'node:child_process'
import {mkdtemp, readdir, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {BatchStream} from '../../src/data/batches.js'
import {resolveCorpus} from '../../src/data/corpus.js'
import {hybridStudent} from '../../src/distill/hybrid-student.js'
import {runStage, trainUnits} from '../../src/distill/loop.js'
import {readMetrics, type StepMetrics} from '../../src/distill/metrics.js'
import type {DistillSettings} from '../../src/distill/options.js'
import {readRunSettings} from '../../src/distill/run-file.js'
import {stage3} from '../../src/distill/stage3.js'
import {loadHybrid} from '../../src/models/hybrid.js'
import {loadTeacher} from '../../src/models/load.js'
import {loadTokenizer} from '../../src/tokenizer/load.js'
import {repoRoot} from '../helpers/paths.js'
import {maxRelative, runTiny, studentWeights, tinySettings} from './harness.js'
import {writeTinyPair} from './tiny-models.js'

/**
 * DiLoCo across hosts, simulated with local processes: two `hybridize distill --workers 2` CLI
 * workers on the CPU, meeting in a sync folder. Each step trains on 2 rows of 32 tokens a worker.
 */
let dir: string
let dirs: Awaited<ReturnType<typeof writeTinyPair>>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-diloco-'))
  dirs = await writeTinyPair(dir)
})

const TOKENS_PER_STEP = 2 * 32 * 2

const workerArgs = (sync: string, out: string, index: number, steps: number, extra: string[]): string[] => [
  'distill', dirs.student, '--teacher', dirs.teacher, '--data', dirs.text, '--stage', '3', '--tokens', String(steps * TOKENS_PER_STEP),
  '--lr', '3e-3', '--batch-size', '2', '--seq-len', '32', '--device', 'cpu', '-q',
  '--workers', '2', '--worker-index', String(index), '--sync-dir', sync, '--out', out, ...extra,
]

interface Child {
  kill(): void
  exited: Promise<{code: number | null; stderr: string}>
}

function start(args: string[]): Child {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/run.js'), ...args], {cwd: repoRoot, env: {...process.env, NO_COLOR: '1'}})
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<{code: number | null; stderr: string}>((resolve) => child.on('exit', (code) => resolve({code, stderr})))
  return {kill: () => child.kill('SIGKILL'), exited}
}

async function expectSuccess(child: Child): Promise<void> {
  const {code, stderr} = await child.exited
  expect(stderr).toBe('')
  expect(code).toBe(0)
}

/** Two workers from start to end; returns their run folders. */
async function runWorkers(name: string, steps: number, extra: string[]): Promise<string[]> {
  const outs = [0, 1].map((i) => join(dir, name, `worker-${i}`))
  const children = outs.map((out, i) => start(workerArgs(join(dir, name, 'sync'), out, i, steps, extra)))
  for (const c of children) await expectSuccess(c)
  return outs
}

/**
 * The reference for H = 1, outer lr 1, momentum 0, built from the loop itself: two students, each
 * with its own AdamW and its own rows (the loop's shard), each round one step from the common
 * parameters, after which both take the plain mean of the two.
 */
async function meanOfWorkerUpdates(settings: DistillSettings, rounds: number): Promise<Map<string, Float32Array>> {
  const workers = []
  for (const index of [0, 1]) {
    const backend = new CpuBackend({description: 'cpu (tests)'})
    const teacher = await loadTeacher(settings.teacher, backend)
    const student = hybridStudent(await loadHybrid(settings.student, backend))
    const ctx = {student, teacher, settings, layers: [...Array(student.numLayers).keys()]}
    const data = new BatchStream({
      corpus: await resolveCorpus(settings.data, settings.textField), tokenizer: await loadTokenizer(settings.teacher),
      eosId: teacher.config.eosTokenId as number, seqLen: settings.seqLen, seed: settings.seed, textField: settings.textField,
    })
    workers.push({index, student, ctx, units: trainUnits(stage3, ctx), data})
  }
  for (let round = 0; round < rounds; round++) {
    for (const w of workers) {
      await runStage({def: stage3, ctx: w.ctx, data: w.data, units: w.units, shard: {count: 2, index: w.index}, steps: rounds, lr: settings.lr[0], firstStep: round, afterStep: async () => true})
    }
    for (const name of workers[0].student.weights.keys()) {
      const [a, b] = await Promise.all(workers.map((w) => w.student.weights.get(name)!.toFloat32()))
      const mean = a.map((v, i) => (v + b[i]) / 2)
      for (const w of workers) w.student.backend.write(w.student.weights.get(name)!.storage, mean)
    }
  }
  const result = new Map<string, Float32Array>()
  for (const [name, t] of workers[0].student.weights) result.set(name, await t.toFloat32())
  for (const w of workers) await w.data.close()
  return result
}

/** What must not depend on a worker being killed (timings may). */
const trajectory = (ms: StepMetrics[]) => ms.map(({step, tokens, loss, lr, grad_norm}) => ({step, tokens, loss, lr, grad_norm}))

describe('DiLoCo workers', () => {
  it('at H = 1, outer lr 1 and no momentum, end each round at the mean of the workers\' one-step AdamW updates (not a step on the mean gradient)', async () => {
    const rounds = 3
    const outs = await runWorkers('h1', rounds, ['--sync-every', '1', '--outer-lr', '1', '--outer-momentum', '0'])
    const [w0, w1] = await Promise.all(outs.map(studentWeights))
    // Every worker takes the same outer step from the same files: the same bits.
    expect(maxRelative(w0, w1)).toBe(0)
    const settings = await readRunSettings(outs[0])
    expect(maxRelative(await meanOfWorkerUpdates(settings, rounds), w0)).toBeLessThan(1e-5)
    // AdamW's update is not linear in the gradient, so this is not synchronous data-parallel training,
    // which takes one AdamW step on the mean gradient of all four rows (test/distill/data-parallel.test.ts).
    const sync = join(dir, 'h1-sync-dp')
    await runTiny({...settings, batchSize: 4, diloco: undefined}, sync)
    expect(maxRelative(await studentWeights(sync), w0)).toBeGreaterThan(1e-3)
    // Every round's deltas but the last were removed once no worker could need them again.
    expect(await readdir(join(dir, 'h1', 'sync'))).toEqual([`round-${rounds - 1}`])
  }, 60_000)

  it('with one worker, outer lr 1 and no momentum, is the run without DiLoCo, on two devices as on one', async () => {
    // The outer step then moves the parameters to where the inner steps took them (up to rounding in θ − (θ − θ')).
    const settings = tinySettings(dirs, {stages: [3], lr: [3e-3], gradAccum: 1, saveEvery: 100, devices: 2})
    const solo = {workers: 1, index: 0, syncDir: join(dir, 'solo-sync'), syncEvery: 2, outerLr: 1, outerMomentum: 0}
    await runTiny({...settings, diloco: undefined, tokens: [5 * TOKENS_PER_STEP]}, join(dir, 'plain'))
    await runTiny({...settings, diloco: solo, tokens: [5 * TOKENS_PER_STEP]}, join(dir, 'solo'))
    const [plain, solo1] = [await readMetrics(join(dir, 'plain')), await readMetrics(join(dir, 'solo'))]
    expect(solo1.map((m) => m.step)).toEqual([1, 2, 3, 4, 5])
    solo1.forEach((m, i) => expect(Math.abs(m.loss - plain[i].loss) / plain[i].loss).toBeLessThan(1e-5))
    expect(maxRelative(await studentWeights(join(dir, 'solo')), await studentWeights(join(dir, 'plain')))).toBeLessThan(1e-5)
  }, 60_000)

  it('a worker killed mid-round and restarted with --resume ends the run as if it had never died', async () => {
    const steps = 12
    const extra = ['--sync-every', '3']
    const whole = await runWorkers('whole', steps, extra)

    const outs = [0, 1].map((i) => join(dir, 'killed', `worker-${i}`))
    const sync = join(dir, 'killed', 'sync')
    const w0 = start(workerArgs(sync, outs[0], 0, steps, extra))
    const w1 = start(workerArgs(sync, outs[1], 1, steps, extra))
    // Worker 1 is in its second round (steps 4-6) once it has logged step 4; worker 0 cannot finish that round without it.
    let exited = false
    void w1.exited.then(() => (exited = true))
    while (!exited && (await readMetrics(outs[1])).length < 4) await new Promise((r) => setTimeout(r, 2))
    w1.kill()
    expect((await w1.exited).code).toBe(null)
    const logged = (await readMetrics(outs[1])).length
    expect(logged).toBeGreaterThanOrEqual(4)
    expect(logged).toBeLessThan(steps)
    // The scheduler starts it again: the same worker, from its run folder.
    await expectSuccess(start(['distill', '--resume', '--out', outs[1], '--device', 'cpu', '-q']))
    await expectSuccess(w0)

    for (const i of [0, 1]) {
      expect(trajectory(await readMetrics(outs[i]))).toEqual(trajectory(await readMetrics(whole[i])))
      expect((await readFile(join(outs[i], 'student/model.safetensors'))).equals(await readFile(join(whole[i], 'student/model.safetensors')))).toBe(true)
    }
  }, 60_000)
})
