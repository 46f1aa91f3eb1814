import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {hybridStudent} from '../../src/distill/hybrid-student.js'
import {microBatch, trainUnits} from '../../src/distill/loop.js'
import type {StageContext, StageDefinition} from '../../src/distill/stage.js'
import {stage1} from '../../src/distill/stage1.js'
import {stage3} from '../../src/distill/stage3.js'
import {fromArray, scopeAsync} from '../../src/engine/tensor.js'
import {loadHybrid} from '../../src/models/hybrid.js'
import {loadTeacher} from '../../src/models/load.js'
import {LossScaler} from '../../src/train/loss-scaler.js'
import {rewrite} from '../../src/rewrite/rewrite.js'
import {cpuBackend, webgpuBackend} from '../helpers/backends.js'
import {repoRoot} from '../helpers/paths.js'
import {Rng} from '../helpers/random.js'
import {writeHeadsJson} from '../rewrite/helpers.js'
import {tinySettings} from './harness.js'

/**
 * One step's gradients under --precision mixed against f32, on a hybrid of the llama-tiny fixture
 * (a 4,096-token vocabulary, one head kept), through the loop's own micro-batch: forward, scaled
 * backward, unscale. chunked-logits-mixed.test.ts holds the regime (N·V large) where an unscaled
 * LM-head backward loses the gradients; here the whole step is checked at fixture size.
 */
const gpu = await webgpuBackend()
const teacherFolder = resolve(repoRoot, 'fixtures/llama-tiny')
let root: string
let student: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-mixed-grads-'))
  const heads = await writeHeadsJson(root, teacherFolder, 6, 8, [[2, 3]])
  student = join(root, 'hybrid')
  await rewrite({teacherFolder, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: 'discrete-mamba2'}, out: student, command: 'test'})
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

/**
 * The gradients of one micro-batch in f32, and in mixed precision divided by the loss scale, per
 * trained tensor. The scale is the one the loss scaler settles on, from 2^16 halved on each
 * overflow (stage 3's largest gradient here, the embedding's 1.7, overflows f16 at 2^16).
 */
async function stepGradients(backend: Backend, def: StageDefinition): Promise<{names: string[]; f32: Float32Array[]; mixed: Float32Array[]}> {
  const teacher = await loadTeacher(teacherFolder, backend)
  const model = await loadHybrid(student, backend)
  const rng = new Rng(20)
  const [batch, seqLen] = [2, 32]
  const ids = Int32Array.from({length: batch * seqLen}, () => rng.int(0, 4000))
  const settings = tinySettings({teacher: teacherFolder, student, text: ''}, {stages: [def.stage], batchSize: batch, seqLen})
  // Stage 1: a pure SSM layer and the one with the kept head.
  const ctx = (precision: 'f32' | 'mixed'): StageContext => ({student: hybridStudent(model), teacher, settings: {...settings, precision}, layers: [1, 2]})
  const params = trainUnits(def, ctx('f32')).flatMap((u) => u.params)
  for (const p of params) p.tensor.requiresGrad = true
  const run = (precision: 'f32' | 'mixed', scale: number) => scopeAsync(async () => {
    const {grads} = await microBatch(def, ctx(precision), fromArray(backend, ids, [batch, seqLen]), params.map((p) => p.tensor), scale)
    return Promise.all(grads.map(async (g) => Float32Array.from(await g.toArray(), (v) => v / scale)))
  })
  const scaler = new LossScaler()
  let mixed: Float32Array[]
  do mixed = await run('mixed', scaler.scale)
  while (!scaler.update(mixed.every((g) => g.every(Number.isFinite))))
  return {names: params.map((p) => p.name), f32: await run('f32', 1), mixed}
}

const sumSquares = (a: Float32Array): number => a.reduce((s, v) => s + v * v, 0)

function expectTracksF32({names, f32, mixed}: Awaited<ReturnType<typeof stepGradients>>): void {
  names.forEach((name, i) => {
    const diff = Math.sqrt(sumSquares(f32[i].map((v, j) => v - mixed[i][j])))
    const size = Math.sqrt(sumSquares(f32[i]))
    // Stage 1 trains every mixer weight but its loss reads only those of the mixing matrix.
    if (size === 0) expect(diff, `${name}: zero in f32`).toBe(0)
    else expect(diff / size, `${name}: relative error`).toBeLessThanOrEqual(1e-2)
  })
  const [a, b] = [f32, mixed].map((gs) => Math.sqrt(gs.reduce((s, g) => s + sumSquares(g), 0)))
  expect(Math.abs(b - a) / a, 'global norm').toBeLessThanOrEqual(1e-2)
}

describe('--precision mixed: one step\'s gradients equal the f32 ones to f16 tolerance (per tensor <= 1e-2, global norm within 1 %)', () => {
  // Stage 2 is left out for time: its larger gradients take the scaler seven halvings (to 2^9).
  for (const [n, def] of [[1, stage1], [3, stage3]] as const) {
    it(`stage ${n}, CPU`, async () => expectTracksF32(await stepGradients(cpuBackend(), def)))
  }
  it.skipIf(!gpu)('stage 3, WebGPU', async () => expectTracksF32(await stepGradients(gpu!, stage3)))
})
