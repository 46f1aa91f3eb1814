import {describe, expect, it} from 'vitest'
import {HybridizeError} from '../../src/errors.js'
import {getTask, isTaskName, taskNames} from '../../src/tasks/index.js'

describe('task registry', () => {
  it('finds each task by its name', () => {
    expect(taskNames).toEqual(['kv-retrieval', 'mc-retrieval', 'needle'])
    for (const name of taskNames) expect(getTask(name).name).toBe(name)
    expect(isTaskName('needle')).toBe(true)
    expect(isTaskName('toString')).toBe(false)
  })

  it('names the known tasks when asked for an unknown one', () => {
    expect(() => getTask('kv')).toThrow(HybridizeError)
    expect(() => getTask('kv')).toThrow(/kv-retrieval, mc-retrieval, needle/)
  })
})
