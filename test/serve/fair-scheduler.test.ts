import {describe, expect, it} from 'vitest'
import {CancelledError, FairScheduler, FORWARDS_PER_TURN} from '../../src/serve/fair-scheduler.js'

/** A request of `forwards` forwards that logs each one under `name`. */
async function request(scheduler: FairScheduler, name: string, forwards: number, log: string[], signal?: AbortSignal): Promise<void> {
  const turns = scheduler.turns(signal)
  try {
    for (let i = 0; i < forwards; i++) {
      await turns.next()
      log.push(name)
    }
  } finally {
    turns.done()
  }
}

describe('FairScheduler: turns of a few forwards, in the order asked for', () => {
  it('lets a short request finish in its first turn while a long one waits its next', async () => {
    const s = new FairScheduler()
    const log: string[] = []
    const long = request(s, 'long', 3 * FORWARDS_PER_TURN, log)
    const short = request(s, 'short', 5, log)
    await Promise.all([long, short])
    expect(log.indexOf('short')).toBe(FORWARDS_PER_TURN)
    expect(log.lastIndexOf('short')).toBe(FORWARDS_PER_TURN + 4)
    expect(log.filter((x) => x === 'long')).toHaveLength(3 * FORWARDS_PER_TURN)
  })

  it('rotates between long requests turn by turn', async () => {
    const s = new FairScheduler()
    const log: string[] = []
    await Promise.all(['a', 'b', 'c'].map((n) => request(s, n, 2 * FORWARDS_PER_TURN, log)))
    const turns = log.filter((x, i) => i % FORWARDS_PER_TURN === 0)
    expect(turns).toEqual(['a', 'b', 'c', 'a', 'b', 'c'])
  })

  it('drops a request whose client is gone, waiting or running, without blocking the rest', async () => {
    const s = new FairScheduler()
    const log: string[] = []
    const running = new AbortController()
    const waiting = new AbortController()
    const a = request(s, 'a', 4 * FORWARDS_PER_TURN, log, running.signal)
    const b = request(s, 'b', 4 * FORWARDS_PER_TURN, log, waiting.signal)
    const c = request(s, 'c', 3, log)
    waiting.abort()
    await expect(b).rejects.toBeInstanceOf(CancelledError)
    while (log.length < 2) await new Promise((r) => setImmediate(r))
    running.abort()
    await expect(a).rejects.toBeInstanceOf(CancelledError)
    await c
    expect(log.filter((x) => x === 'b')).toHaveLength(0)
    expect(log.filter((x) => x === 'a').length).toBeLessThanOrEqual(3)
    expect(log.filter((x) => x === 'c')).toHaveLength(3)
  })
})
