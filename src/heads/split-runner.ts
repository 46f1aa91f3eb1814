import type {RowRunner} from './choice-scoring.js'

/**
 * Rows spread over several runners, one per device (`find-heads --devices N`): row i goes to runner
 * i mod N, so each device gets every layer's ablations in equal measure (a row's cost depends on
 * the layer it is ablated at) and, as requests list every prompt under each ablation, the same
 * prompts over and over, whose plain forward it then shares. The runners run at once and each row's
 * result comes back in its place. A row's log-probs do not depend on the rows batched beside it
 * beyond float rounding, so the scores are those of one device.
 */
export function splitRows<Variant>(runners: RowRunner<Variant>[]): RowRunner<Variant> {
  if (runners.length === 1) return runners[0]
  return async (rows) => {
    const parts = runners.map((_, d) => rows.flatMap((row, i) => (i % runners.length === d ? [row] : [])))
    const results = await Promise.all(runners.map((run, d) => (parts[d].length > 0 ? run(parts[d]) : Promise.resolve([]))))
    return rows.map((_, i) => results[i % runners.length][Math.floor(i / runners.length)])
  }
}
