import {mkdtemp, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {createBackend} from '../../src/backend/device.js'
import {readMetrics} from '../../src/distill/metrics.js'
import type {DistillSettings} from '../../src/distill/options.js'
import {webgpuBackend} from '../helpers/backends.js'
import {maxRelative, runTiny, studentWeights, tinySettings} from './harness.js'
import {writeTinyPair} from './tiny-models.js'

/**
 * `--devices N` for stage 3: N replicas, each on batchSize rows of every micro-batch, gradients
 * summed across them (distill/replicas.ts), the same AdamW step on each. The loss and gradient
 * are means over rows, so N replicas of batch B follow one device with batch N·B, up to the
 * order of float sums. Two CPU backends stand in for two GPUs; on llvmpipe, two WebGPU devices.
 */
const gpu = await webgpuBackend()
let dir: string
let dirs: Awaited<ReturnType<typeof writeTinyPair>>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-dp-'))
  dirs = await writeTinyPair(dir)
})

/** Stage 3 only, 4 steps of 128 tokens each, with gradient accumulation so that it is summed across replicas too. */
const stage3 = (over: Partial<DistillSettings>): DistillSettings => tinySettings(dirs, {stages: [3], tokens: [128 * 4 * 2], lr: [3e-3], saveEvery: 100, ...over})

async function expectSameRun(one: string, many: string, tolerance: number): Promise<void> {
  const [a, b] = [await readMetrics(one), await readMetrics(many)]
  expect(b.map((m) => m.tokens)).toEqual(a.map((m) => m.tokens))
  expect(a).toHaveLength(4)
  for (const [i, m] of a.entries()) {
    expect(Math.abs(b[i].loss - m.loss) / m.loss).toBeLessThan(tolerance)
    expect(Math.abs(b[i].grad_norm! - m.grad_norm!) / m.grad_norm!).toBeLessThan(tolerance * 10)
  }
  // The loss moved: equal losses are not equal by standing still.
  expect(Math.abs(a[3].loss - a[0].loss)).toBeGreaterThan(1e-3)
  expect(maxRelative(await studentWeights(one), await studentWeights(many))).toBeLessThan(tolerance * 10)
}

describe('stage 3 on several devices', () => {
  it('two CPU replicas of batch 2 give the losses and weights of one device with batch 4', async () => {
    await runTiny(stage3({batchSize: 4}), join(dir, 'one'))
    await runTiny(stage3({batchSize: 2, devices: 2}), join(dir, 'two'))
    await expectSameRun(join(dir, 'one'), join(dir, 'two'), 1e-5)
  })

  it('resumes as it runs: two replicas stopped after step 2 and resumed end as an uninterrupted run', async () => {
    const settings = stage3({batchSize: 2, devices: 2, saveEvery: 1})
    await runTiny(settings, join(dir, 'two-whole'))
    const first = await runTiny(settings, join(dir, 'two-cut'), {stopAfter: 2})
    expect(first.outcome).toMatchObject({completed: false, step: 2})
    await runTiny(settings, join(dir, 'two-cut'), {resume: true})
    const losses = async (out: string) => (await readMetrics(out)).map((m) => [m.step, m.loss, m.grad_norm])
    expect(await losses(join(dir, 'two-cut'))).toEqual(await losses(join(dir, 'two-whole')))
    expect((await readFile(join(dir, 'two-cut/student/model.safetensors'))).equals(await readFile(join(dir, 'two-whole/student/model.safetensors')))).toBe(true)
  })

  const opened: Backend[] = []
  afterAll(() => opened.forEach((b) => b.destroy()))
  const newDevice = async (): Promise<Backend> => {
    const b = await createBackend('webgpu')
    opened.push(b)
    return b
  }

  it.skipIf(!gpu)('two WebGPU devices (on llvmpipe where there is no GPU) give the losses of one with twice the batch', async () => {
    await runTiny(stage3({batchSize: 4}), join(dir, 'gpu-one'), {backend: newDevice})
    await runTiny(stage3({batchSize: 2, devices: 2}), join(dir, 'gpu-two'), {backend: newDevice})
    expect(new Set(opened).size).toBe(3)
    // 3e-5, not the CPU's 1e-5: a replica's linears see half the rows, and at 64 rows or fewer the GPU picks
    // another matmul (kernels/matmul-rows.ts) that sums K in another order.
    await expectSameRun(join(dir, 'gpu-one'), join(dir, 'gpu-two'), 3e-5)
  }, 120_000)
})
