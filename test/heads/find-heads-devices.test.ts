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
 * `find-heads --devices N`: the ablations shared among N copies of the teacher, each on its own
 * backend (two CPU backends here), running at once and interleaving at their reads. The results
 * are those of one device: the same accuracies, ranking and selection, log-likelihoods to rounding.
 */
let teacherDir: string

beforeAll(async () => {
  teacherDir = (await writeTinyPair(await mkdtemp(join(tmpdir(), 'hybridize-heads-devices-')))).teacher
})

const options: FindHeadsOptions = {task: 'kv-retrieval', samples: 6, pairs: 4, seed: 2, ablation: 'zero', select: {topK: 2}, selection: 'individual', randomDraws: 2, precision: 'f32'}

describe('find-heads on several devices', () => {
  it('gives the results of one device', async () => {
    const tok = await loadTokenizer(teacherDir)
    const load = () => loadTeacher(teacherDir, new CpuBackend({description: 'cpu (tests)'}))
    const one = await findHeads(await load(), tok, options)
    const two = await findHeads(await load(), tok, options, [await load()])
    expect(two.heads.map((h) => [h.layer, h.head, h.acc])).toEqual(one.heads.map((h) => [h.layer, h.head, h.acc]))
    expect(two.selected).toEqual(one.selected)
    expect(two.baseline.acc).toBe(one.baseline.acc)
    two.heads.forEach((h, i) => expect(h.logprobDrop).toBeCloseTo(one.heads[i].logprobDrop, 5))
    // The heads differ from one another, so a mix-up of rows between devices would show.
    expect(new Set(one.heads.map((h) => h.logprobDrop.toFixed(4))).size).toBeGreaterThan(4)
  })
})
