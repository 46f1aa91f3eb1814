import {mkdtemp, readFile, readdir, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {writeCharts} from '../../src/eval/report.js'
import {runTask} from '../../src/eval/run-tasks.js'
import type {EvalContext} from '../../src/eval/tasks/types.js'
import {loadModel} from '../../src/models/load-model.js'
import {rewrite} from '../../src/rewrite/rewrite.js'
import {webgpuBackend} from '../helpers/backends.js'
import {fixtureReference} from '../helpers/paths.js'
import {writeHeadsJson} from '../rewrite/helpers.js'

const teacher = join(fixtureReference, 'llama-tiny')
// llama-tiny: 2 layers, 2 key/value heads of 16 features.
const kvBytesPerPosition = 2 * 2 * 2 * 16 * 4

describe('throughput task', () => {
  let root: string
  let student: string
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'hybridize-throughput-'))
    // Layer 0 keeps query head 1 beside its SSM (one key/value head of its own), layer 1 is all SSM.
    const heads = await writeHeadsJson(root, teacher, 2, 4, [[0, 1]])
    student = join(root, 'student')
    await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: 'discrete-mamba2', dState: 8}, out: student, command: 'test'})
  })
  afterAll(() => rm(root, {recursive: true, force: true}))

  const run = async (folder: string, backend: Backend, batchSize = 2, seqLen = 64) => {
    const lm = await loadModel(folder, backend)
    const ctx: EvalContext = {lm, batchSize, seed: 1, logSamples: false, progress: () => {}}
    const result = await runTask('throughput', ctx, seqLen)
    for (const w of lm.weights.values()) w.dispose()
    return result
  }

  it("measures speed at every batch and context, and the teacher's KV cache grows linearly while the student's SSM state stays", async () => {
    const t = await run(teacher, new CpuBackend())
    const s = await run(student, new CpuBackend())
    for (const B of [1, 2]) {
      for (const L of [8, 16, 32, 64]) {
        for (const r of [t, s]) {
          expect(r.metrics[`prefill_tok_s,batch=${B};context=${L}`]).toBeGreaterThan(0)
          expect(Number.isFinite(r.metrics[`decode_tok_s,batch=${B};context=${L}`])).toBe(true)
        }
      }
    }
    for (const L of [8, 16, 32, 64]) {
      expect(t.metrics[`kv_bytes_per_seq,context=${L}`]).toBe(L * kvBytesPerPosition)
      expect(t.metrics[`ssm_bytes_per_seq,context=${L}`]).toBe(0)
      // The student's one kept head has one key/value head in one layer: a quarter of a layer's KV.
      expect(s.metrics[`kv_bytes_per_seq,context=${L}`]).toBe(L * kvBytesPerPosition / 4)
      expect(s.metrics[`ssm_bytes_per_seq,context=${L}`]).toBe(s.metrics['ssm_bytes_per_seq,context=8'])
    }
    expect(s.metrics['ssm_bytes_per_seq,context=8']).toBeGreaterThan(0)
    expect(t.curves!.map((c) => `${c.chart} ${c.label}`)).toEqual([
      'prefill_tok_s batch 1', 'decode_tok_s batch 1', 'prefill_tok_s batch 2', 'decode_tok_s batch 2', 'state_bytes KV cache', 'state_bytes SSM state',
    ])
    const files = await writeCharts(join(root, 'out'), [{model: 'teacher', results: [t]}, {model: 'student', results: [s]}])
    expect((await readdir(join(root, 'out'))).filter((f) => f.endsWith('.svg')).sort()).toEqual(['throughput_decode_tok_s.svg', 'throughput_prefill_tok_s.svg', 'throughput_state_bytes.svg'])
    const svg = await readFile(files.find((f) => f.endsWith('state_bytes.svg'))!, 'utf8')
    for (const name of ['teacher (KV cache)', 'student (SSM state)']) expect(svg).toContain(name)
  })

  it('on WebGPU, the bytes the backend allocates for the decode state cover the computed ones', async () => {
    const gpu = await webgpuBackend()
    if (!gpu) return
    const s = await run(student, gpu, 1, 16)
    for (const L of [2, 4, 8, 16]) {
      const computed = s.metrics[`kv_bytes_per_seq,context=${L}`] + s.metrics[`ssm_bytes_per_seq,context=${L}`]
      const measured = s.metrics[`measured_bytes_per_seq,context=${L}`]
      // Buffers come in size classes at most a fifth above the request (webgpu-pools.ts), at least 16 bytes.
      expect(measured).toBeGreaterThanOrEqual(computed)
      expect(measured).toBeLessThanOrEqual(computed * 1.25 + 64)
    }
  })
})
