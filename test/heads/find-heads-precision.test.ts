import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {CpuBackend} from '../../src/backend/cpu.js'
import {findHeads, type FindHeadsOptions} from '../../src/heads/find-heads.js'
import {loadTeacher} from '../../src/models/load.js'
import {loadTokenizer} from '../../src/tokenizer/load.js'
import {writeTinyPair} from '../distill/tiny-models.js'

/**
 * `find-heads --precision mixed`: every ablated forward's linears in f16 with f32 sums. The figures
 * move by f16's rounding only (so the ranking by accuracy drop is f32's here, where no two drops are
 * that close), and they do move: the precision reaches the forwards.
 */
let teacherDir: string

beforeAll(async () => {
  teacherDir = (await writeTinyPair(await mkdtemp(join(tmpdir(), 'hybridize-heads-precision-')))).teacher
})

const options: FindHeadsOptions = {task: 'kv-retrieval', samples: 6, pairs: 4, seed: 2, ablation: 'zero', select: {topK: 2}, selection: 'individual', randomDraws: 1, precision: 'f32'}

describe('find-heads in mixed precision', () => {
  it("scores every head within f16's rounding of f32's", async () => {
    const tok = await loadTokenizer(teacherDir)
    const load = () => loadTeacher(teacherDir, new CpuBackend({description: 'cpu (tests)'}))
    const f32 = await findHeads(await load(), tok, options)
    const mixed = await findHeads(await load(), tok, {...options, precision: 'mixed'})
    const key = (h: {layer: number; head: number}) => `${h.layer}.${h.head}`
    const byHead = new Map(mixed.heads.map((h) => [key(h), h]))
    expect(mixed.heads).toHaveLength(f32.heads.length)
    const moved = f32.heads.map((h) => Math.abs(byHead.get(key(h))!.logprobDrop - h.logprobDrop))
    expect(Math.max(...moved)).toBeLessThan(2e-2)
    expect(Math.abs(mixed.baseline.answerLogprob - f32.baseline.answerLogprob)).toBeGreaterThan(0)
    expect(Math.abs(mixed.baseline.answerLogprob - f32.baseline.answerLogprob)).toBeLessThan(2e-2)
    expect(mixed.baseline.acc).toBe(f32.baseline.acc)
    for (const h of f32.heads) expect(byHead.get(key(h))!.acc).toBe(h.acc)
  })

  it('counts the single-ablation pass: a row at least per head (and the baseline) and prompt, each its prompt long', async () => {
    const tok = await loadTokenizer(teacherDir)
    const {ablationPass, heads} = await findHeads(await loadTeacher(teacherDir, new CpuBackend({description: 'cpu (tests)'})), tok, options)
    expect(ablationPass.rows).toBeGreaterThanOrEqual((heads.length + 1) * options.samples)
    expect(ablationPass.tokens).toBeGreaterThan(ablationPass.rows * 10)
    expect(ablationPass.seconds).toBeGreaterThan(0)
  })
})
