import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {TaskSampleSource} from '../../src/data/mix.js'
import {runRetrieval} from '../../src/eval/tasks/retrieval.js'
import type {EvalContext} from '../../src/eval/tasks/types.js'
import {loadTeacher} from '../../src/models/load.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {generateSamples, getTask, taskNames} from '../../src/tasks/index.js'
import {keyHalfOf, taskKeys} from '../../src/tasks/key-halves.js'
import {parseTaskSpec} from '../../src/tasks/task-spec.js'
import {commonNouns} from '../../src/tasks/words.js'
import {loadTokenizer} from '../../src/tokenizer/load.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'

/** Every key a retrieval prompt names, in any task's layout: dictionary lines, sentences, options, the needle. */
function keysIn(text: string): string[] {
  const patterns = [/^([a-z]+):\d+$/gm, /^([a-z]+) has the number \d+\.$/gm, /^[A-D]\. ([a-z]+)$/gm, /magic number for ([a-z]+) is/g]
  return patterns.flatMap((p) => [...text.matchAll(p)].map((m) => m[1]))
}

describe('the key vocabulary in two halves', () => {
  it('splits the nouns into disjoint halves of about equal size, by the hash of each word', () => {
    const train = taskKeys('train')
    const heldout = new Set(taskKeys('heldout'))
    expect(train.filter((w) => heldout.has(w))).toEqual([])
    expect(train.length + heldout.size).toBe(commonNouns().length)
    expect(taskKeys('all')).toEqual(commonNouns())
    for (const half of [train.length, heldout.size]) expect(half / commonNouns().length).toBeGreaterThan(0.4)
    // The rule is per word: a word's half does not depend on the list it is in.
    expect(keyHalfOf('river')).toBe(keyHalfOf('river'))
    expect(new Set(train.map(keyHalfOf))).toEqual(new Set(['train']))
  })

  it.each(['train', 'heldout'] as const)('every task asked for the %s half names only its keys', (half) => {
    const other = new Set(taskKeys(half === 'train' ? 'heldout' : 'train'))
    for (const [name, options] of [['kv-retrieval', {}], ['kv-retrieval', {template: 'sentences'}], ['mc-retrieval', {}], ['needle', {haystackChars: 300}]] as const) {
      const samples = generateSamples(getTask(name), {seed: 3, count: 40, keys: half, ...options})
      const keys = samples.flatMap((s) => keysIn(s.prompt))
      expect(keys.length).toBeGreaterThanOrEqual(40)
      expect(keys.filter((k) => other.has(k))).toEqual([])
      for (const s of samples) expect(keysIn(s.prompt)).toContain(s.prompt.slice(s.query.start, s.query.end))
    }
  })

  it("distill --mix's samples never name a held-out key", async () => {
    const heldout = new Set(taskKeys('heldout'))
    // arith-lookup's questions name no keys: it draws numbers, not key words.
    for (const task of taskNames.filter((t) => t !== 'arith-lookup')) {
      const source = new TaskSampleSource({task, fraction: 0.1, range: task === 'needle' ? {option: 'haystackChars', min: 200, max: 400} : undefined}, 7)
      const keys: string[] = []
      for (let i = 0; i < 60; i++) keys.push(...keysIn((await source.next()).text))
      expect(keys.length).toBeGreaterThanOrEqual(60)
      expect(keys.filter((k) => heldout.has(k))).toEqual([])
    }
  })

  it('the task option is checked: an unknown half or option is a one-line error', () => {
    expect(parseTaskSpec('kv-retrieval:keys=all:template=sentences')).toEqual({name: 'kv-retrieval', options: {keys: 'all', template: 'sentences'}})
    expect(() => parseTaskSpec('kv-retrieval:keys=test')).toThrow(/kv-retrieval: keys must be one of train, heldout, all, got test/)
    expect(() => parseTaskSpec('mc-retrieval:pairs=3')).toThrow(/mc-retrieval has no option 'pairs' \(options: keys\)/)
    expect(() => parseTaskSpec('kv-retrieval:template')).toThrow(/expected kv-retrieval:option=value/)
    expect(parseTaskSpec('ppl:brown-heldout')).toBeUndefined()
  })
})

describe("eval's retrieval tasks", () => {
  let fixture: Awaited<ReturnType<typeof tinyModelWithTokenizer>>
  let ctx: EvalContext
  const warnings: string[] = []
  beforeAll(async () => {
    fixture = await tinyModelWithTokenizer()
    const lm = await loadTeacher(fixture.folder, new CpuBackend())
    ctx = {lm, tokenizer: await loadTokenizer(fixture.folder), limit: 2, batchSize: 4, seed: 0, logSamples: true, progress: () => {}, maxPositions: 2048, warn: (w) => warnings.push(w)}
  })
  afterAll(() => fixture.cleanup())

  it('ask about held-out keys by default, past the pairs distillation mixes in, within the context', async () => {
    const train = new Set(taskKeys('train'))
    const kv = await runRetrieval({name: 'kv-retrieval', options: {}}, ctx)
    const mc = await runRetrieval({name: 'mc-retrieval', options: {}}, ctx)
    const needle = await runRetrieval({name: 'needle', options: {}}, ctx)
    expect(needle.samples!.length).toBeGreaterThanOrEqual(6)
    const keys = [...kv.samples!, ...mc.samples!, ...needle.samples!].flatMap((s) => keysIn((s.doc as {prompt: string}).prompt))
    expect(keys.length).toBeGreaterThan(500)
    expect(needle.samples!.map((s) => keysIn((s.doc as {prompt: string}).prompt))).toEqual(needle.samples!.map(() => [expect.any(String), expect.any(String)]))
    expect(keys.filter((k) => train.has(k))).toEqual([])
    expect(kv.config.keys).toBe('heldout')
    expect(kv.config.pairs).toEqual([10, 20, 30, 40, 50, 75, 100])
    expect(Object.keys(kv.metrics)).toContain('acc,pairs=100')
    // A point longer than the model's context is left out, with a warning, not truncated.
    const short = await runRetrieval({name: 'kv-retrieval', options: {}}, {...ctx, maxPositions: 200})
    expect((short.config.pairs as number[]).length).toBeLessThan(7)
    expect(warnings.some((w) => /kv-retrieval pairs 100: prompts of up to \d+ tokens do not fit the model's context of 200; point skipped/.test(w))).toBe(true)
  }, 60_000)

  it('take the train half, another template and one point when asked', async () => {
    const heldout = new Set(taskKeys('heldout'))
    const r = await runRetrieval({name: 'kv-retrieval', options: {keys: 'train', template: 'sentences', pairs: 12}}, ctx)
    expect(r.task).toBe('kv-retrieval:keys=train:template=sentences:pairs=12')
    expect(r.config.pairs).toEqual([12])
    const keys = r.samples!.flatMap((s) => keysIn((s.doc as {prompt: string}).prompt))
    expect(keys).toHaveLength(24)
    expect(keys.filter((k) => heldout.has(k))).toEqual([])
  }, 60_000)
})
