import {describe, expect, it} from 'vitest'
import {HybridizeError} from '../../src/errors.js'
import {generateSamples, getTask, isTaskName, taskNames} from '../../src/tasks/index.js'

describe('task registry', () => {
  it('finds each task by its name', () => {
    expect(taskNames).toEqual(['kv-retrieval', 'mc-retrieval', 'needle', 'arith-lookup'])
    for (const name of taskNames) expect(getTask(name).name).toBe(name)
    expect(isTaskName('needle')).toBe(true)
    expect(isTaskName('toString')).toBe(false)
  })

  it('names the known tasks when asked for an unknown one', () => {
    expect(() => getTask('kv')).toThrow(HybridizeError)
    expect(() => getTask('kv')).toThrow(/kv-retrieval, mc-retrieval, needle, arith-lookup/)
  })

  it('draws unrelated samples for two tasks under one seed', () => {
    const words = (prompt: string) => new Set(prompt.match(/[a-z]+/g))
    const kv = generateSamples(getTask('kv-retrieval'), {seed: 1, count: 20, pairs: 10})
    const mc = generateSamples(getTask('mc-retrieval'), {seed: 1, count: 20})
    const shared = mc.filter((m, i) => m.segments.some(({start, end}) => words(kv[i].prompt).has(m.prompt.slice(start + 3, end - 1))))
    expect(shared.length).toBeLessThan(5)
  })
})
