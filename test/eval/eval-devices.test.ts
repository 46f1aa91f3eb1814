import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {evaluate} from '../../src/api/evaluate.js'
import {brownTexts} from '../../src/tasks/brown.js'
import {writeTinyPair} from '../distill/tiny-models.js'

/**
 * `eval --devices N`: the scoring tasks share their samples among N copies of the model, each on
 * its own backend (two CPU backends here), running at once; the metrics are those of one device.
 */
let teacher: string
let tasks: string

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hybridize-eval-devices-'))
  teacher = (await writeTinyPair(dir)).teacher
  const questions = Array.from({length: 5}, (_, i) => JSON.stringify({context: `Question ${i}: which word comes next?`, choices: ['the', 'of', 'and'], gold: i % 3}))
  await writeFile(join(dir, 'mc.jsonl'), questions.join('\n') + '\n')
  await writeFile(join(dir, 'text.txt'), brownTexts('heldout')[0].slice(0, 3000))
  tasks = `kv-retrieval:pairs=4,mc:${join(dir, 'mc.jsonl')},ppl:${join(dir, 'text.txt')}`
})

describe('eval on several devices', () => {
  it('gives the metrics of one device for the retrieval, mc: and ppl: tasks', async () => {
    const run = (devices: number) => evaluate({models: [teacher], tasks, limit: 7, batchSize: 2, seqLen: 48, device: 'cpu', devices})
    const [one, two] = [await run(1), await run(2)]
    const metrics = (r: typeof one) => r.runs[0].results.map((t) => [t.task, t.metrics] as const)
    for (const [i, [task, m]] of metrics(one).entries()) {
      const [otherTask, other] = metrics(two)[i]
      expect(otherTask).toBe(task)
      expect(Object.keys(other)).toEqual(Object.keys(m))
      for (const [key, value] of Object.entries(m)) {
        if (Number.isNaN(value)) expect(other[key]).toBeNaN()
        else expect(Math.abs(other[key] - value)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(value)))
      }
    }
    // Perplexity over several batches of windows, so both devices scored some.
    expect(one.runs[0].results[2].metrics['word_perplexity,none']).toBeGreaterThan(1)
  }, 60_000)
})
