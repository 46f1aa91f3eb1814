/** Runs jobs one at a time in arrival order: the model computes one request while others wait. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve()
  private waiting = 0

  /** Jobs queued or running. */
  get size(): number {
    return this.waiting
  }

  run<T>(job: () => Promise<T>): Promise<T> {
    this.waiting++
    const result = this.tail.then(job).finally(() => this.waiting--)
    // A failed job must not stop the ones behind it.
    this.tail = result.catch(() => undefined)
    return result
  }
}
