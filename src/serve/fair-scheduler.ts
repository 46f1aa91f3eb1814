/** Ends the work of a request whose client went away; the server answers nobody for it. */
export class CancelledError extends Error {
  constructor() {
    super('the client closed the connection')
  }
}

interface Waiter {
  grant: () => void
}

/**
 * The model's time, shared between requests in turns of a few forwards (a prompt's prefill, a
 * decode step, a logprobs pass; see Turns). Turns go in the order they were asked for, so a
 * request that just had one waits behind every request already waiting. A request with 5,000
 * prompts, or 2,000 new tokens, thus delays a one-prompt request by at most one turn per
 * request ahead of it, not by all of its work, as a FIFO over whole requests would.
 */
export class FairScheduler {
  private readonly waiting: Waiter[] = []
  private held = false

  /** One request's turns; its work stops at the next turn once `signal` aborts. */
  turns(signal?: AbortSignal): Turns {
    return new Turns(this, signal)
  }

  /** Resolves when the caller holds the model; rejects with CancelledError if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new CancelledError())
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
      }
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter)
        if (i >= 0) this.waiting.splice(i, 1)
        reject(new CancelledError())
      }
      signal?.addEventListener('abort', onAbort, {once: true})
      this.waiting.push(waiter)
      this.grantNext()
    })
  }

  release(): void {
    this.held = false
    this.grantNext()
  }

  private grantNext(): void {
    // Through setImmediate, so sockets are read (new requests, disconnects) between any two forwards.
    setImmediate(() => {
      if (this.held || this.waiting.length === 0) return
      this.held = true
      this.waiting.shift()!.grant()
    })
  }
}

/** Forwards a request may run in one turn before the requests waiting behind it get theirs. */
export const FORWARDS_PER_TURN = 16

/**
 * A request's side of the scheduler: `next()` before each forward; every FORWARDS_PER_TURN
 * forwards it ends the turn and waits for another, so short requests finish within their first
 * turn and long ones take turns with them. `done()` at the end.
 */
export class Turns {
  private holding = false
  private used = 0

  constructor(private readonly scheduler: FairScheduler, private readonly signal?: AbortSignal) {}

  async next(): Promise<void> {
    if (this.holding && this.used < FORWARDS_PER_TURN) {
      // Still this request's turn; the socket events queued meanwhile (a disconnect, say) are read first.
      await new Promise((resolve) => setImmediate(resolve))
      if (this.signal?.aborted) throw new CancelledError()
      this.used++
      return
    }
    this.done()
    await this.scheduler.acquire(this.signal)
    this.holding = true
    this.used = 1
  }

  done(): void {
    if (!this.holding) return
    this.holding = false
    this.scheduler.release()
  }
}
