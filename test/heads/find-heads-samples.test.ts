import {describe, expect, it} from 'vitest'
import {findHeadsSamples} from '../../src/heads/find-heads.js'
import {generateSamples, getTask} from '../../src/tasks/index.js'

/**
 * A recipe's seed goes to find-heads and to eval alike: the prompts the kept heads are selected on
 * must not be the ones the student is scored on.
 */
describe('find-heads samples', () => {
  it.each([0, 1234, 7])('under seed %s, none of find-heads\' prompts is one eval scores', (seed) => {
    const heads = findHeadsSamples('kv-retrieval', {seed, samples: 20, pairs: 20}).map((s) => s.prompt)
    // What eval's kv-retrieval scores at 20 pairs under the same --seed (src/eval/tasks/retrieval.ts).
    const scored = new Set(generateSamples(getTask('kv-retrieval'), {seed, count: 50, pairs: 20}).map((s) => s.prompt))
    expect(heads).toHaveLength(20)
    expect(new Set(heads).size).toBe(20)
    expect(heads.filter((p) => scored.has(p))).toEqual([])
  })

  it('still depends on the seed, and the dictionary size is the one asked for', () => {
    const [a] = findHeadsSamples('kv-retrieval', {seed: 0, samples: 1, pairs: 12})
    const [b] = findHeadsSamples('kv-retrieval', {seed: 1, samples: 1, pairs: 12})
    expect(a.prompt).not.toBe(b.prompt)
    expect(a.prompt.split('\n').filter((line) => /^\S+:\d+$/.test(line))).toHaveLength(12)
  })
})
