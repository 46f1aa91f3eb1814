/** Thrown into a task whose client went away; nobody reads it, but it ends the task's promise. */
export class CancelledError extends Error {
  constructor() {
    super('the client closed the connection')
  }
}

interface Task {
  next: number
  units: number
  run: (unit: number) => Promise<unknown>
  results: unknown[]
  signal?: AbortSignal
  resolve: (results: unknown[]) => void
  reject: (err: unknown) => void
}

/**
 * Runs the model for many requests, one unit of work at a time, round-robin over requests: a
 * request is a list of units (one per prompt), and after each unit the next request in line gets
 * its turn. A request with 5,000 prompts therefore delays a one-prompt request by at most one
 * unit per request ahead of it, never by its 5,000 units, as a FIFO over whole requests would.
 * A task whose signal aborts (its client disconnected) is dropped before its next unit.
 */
export class FairScheduler {
  private ring: Task[] = []
  private pumping = false

  /** Requests queued or running. */
  get size(): number {
    return this.ring.length
  }

  /** Run units 0..units-1 of one request, interleaved with the other requests' units; their results in order. */
  run<T>(units: number, run: (unit: number) => Promise<T>, signal?: AbortSignal): Promise<T[]> {
    if (signal?.aborted) return Promise.reject(new CancelledError())
    return new Promise<T[]>((resolve, reject) => {
      this.ring.push({next: 0, units, run, results: [], signal, resolve: resolve as (r: unknown[]) => void, reject})
      if (!this.pumping) void this.pump()
    })
  }

  private async pump(): Promise<void> {
    this.pumping = true
    try {
      while (this.ring.length > 0) {
        const task = this.ring.shift()!
        if (task.signal?.aborted) {
          task.reject(new CancelledError())
          continue
        }
        try {
          if (task.next < task.units) task.results.push(await task.run(task.next++))
        } catch (err) {
          task.reject(err)
          continue
        }
        if (task.next === task.units) task.resolve(task.results)
        else this.ring.push(task)
        // Let the event loop read sockets (new requests, disconnects) between units.
        await new Promise((r) => setImmediate(r))
      }
    } finally {
      this.pumping = false
    }
  }
}
