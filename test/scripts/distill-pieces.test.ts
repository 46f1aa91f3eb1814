import {describe, expect, it} from 'vitest'
import {makespan, Slots} from '../../scripts/distill-pieces.js'

/** A task that records when it starts and ends, and ends when `release` is called. */
function gate(log: string[], name: string): {task: () => Promise<string>; release: () => void} {
  let release = () => {}
  const done = new Promise<void>((r) => (release = r))
  return {task: async () => (log.push(`start ${name}`), await done, log.push(`end ${name}`), name), release: () => release()}
}

describe('the experiments\' process slots', () => {
  it('runs at most `size` tasks at once, the waiting one of lowest priority number first', async () => {
    const log: string[] = []
    const slots = new Slots(1)
    const [a, b, c] = ['a', 'b', 'c'].map((n) => gate(log, n))
    const runs = [slots.run(0, a.task), slots.run(5, b.task), slots.run(1, c.task)]
    await new Promise((r) => setImmediate(r))
    expect(log).toEqual(['start a'])
    a.release()
    c.release()
    b.release()
    expect(await Promise.all(runs)).toEqual(['a', 'b', 'c'])
    expect(log).toEqual(['start a', 'end a', 'start c', 'end c', 'start b', 'end b'])
  })

  it('gives a freed slot to the next stage its chain asks for at once, before later chains\' waiting stages', async () => {
    const log: string[] = []
    const slots = new Slots(1)
    const chain = async (name: string, priority: number) => {
      await slots.run(priority, async () => log.push(`${name} stage 1`))
      await slots.run(priority, async () => log.push(`${name} stage 2`))
    }
    await Promise.all([chain('first', 0), chain('second', 1)])
    expect(log).toEqual(['first stage 1', 'first stage 2', 'second stage 1', 'second stage 2'])
  })

  it('after stop, starts nothing: the running task finishes, waiting and later ones fail', async () => {
    const log: string[] = []
    const slots = new Slots(1)
    const a = gate(log, 'a')
    const running = slots.run(0, a.task)
    const waiting = slots.run(0, async () => log.push('waiting ran'))
    slots.stop()
    a.release()
    expect(await running).toBe('a')
    await expect(waiting).rejects.toThrow(/stopped/)
    await expect(slots.run(0, async () => log.push('later ran'))).rejects.toThrow(/stopped/)
    expect(log).toEqual(['start a', 'end a'])
  })
})

describe('makespan: when chains started in order on the first free of `jobs` slots end', () => {
  it('adds up one slot\'s chains, and starts each on the slot that frees first', () => {
    expect(makespan([10, 10, 10], 1)).toBe(30)
    expect(makespan([10, 10, 10], 3)).toBe(10)
    // Slots: [5] and [3, then 4 at 3 s, ending at 7]; then 1 on the slot free at 5.
    expect(makespan([5, 3, 4, 1], 2)).toBe(7)
    // A long chain started last decides the end.
    expect(makespan([1, 1, 1, 9], 3)).toBe(10)
  })
})
