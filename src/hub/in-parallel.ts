/** Runs `work` over `items` with at most `workers` at a time; the first failure aborts the others and is rethrown once they stop. */
export async function inParallel<T>(
  items: T[], workers: number, outer: AbortSignal | undefined, work: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const inner = new AbortController()
  const signal = outer ? AbortSignal.any([outer, inner.signal]) : inner.signal
  let next = 0
  let failure: unknown
  const worker = async () => {
    while (!signal.aborted && next < items.length) {
      try {
        await work(items[next++], signal)
      } catch (err) {
        failure ??= err
        inner.abort()
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(workers, items.length)}, worker))
  if (failure) throw failure
}
