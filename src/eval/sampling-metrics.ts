/**
 * Metrics of many sampled answers per problem.
 *
 * Coverage, pass@k: the probability that at least one of k samples is correct, estimated from n
 * samples of which c are correct without bias (Chen et al. 2021, "Evaluating Large Language Models
 * Trained on Code"): 1 - C(n-c, k) / C(n, k), computed as their numerically stable product
 * 1 - prod_{i=n-c+1..n} (1 - k / i), which never forms the binomials.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!(Number.isInteger(n) && Number.isInteger(c) && Number.isInteger(k) && 0 <= c && c <= n && 1 <= k && k <= n)) {
    throw new RangeError(`passAtK: needs integers 0 <= c <= n and 1 <= k <= n, got n=${n}, c=${c}, k=${k}`)
  }
  if (n - c < k) return 1
  let miss = 1
  for (let i = n - c + 1; i <= n; i++) miss *= 1 - k / i
  return 1 - miss
}

/** What a sample without a number votes for: lm-eval's regex filter fallback. */
export const NO_ANSWER = '[invalid]'

/**
 * The most frequent answer (self-consistency's majority vote, lm-eval's majority_vote filter).
 * A tie goes to the answer sampled first among the tied ones, which is what lm-eval's
 * Counter(resps).most_common(1) returns (counts keep first-seen order; the sort is stable).
 * Samples without an answer vote for "[invalid]", lm-eval's regex fallback, which can win.
 * Undefined when there are no samples.
 */
export function majorityVote(answers: readonly (string | undefined)[]): string | undefined {
  const counts = new Map<string, number>()
  for (const a of answers) counts.set(a ?? NO_ANSWER, (counts.get(a ?? NO_ANSWER) ?? 0) + 1)
  let best: string | undefined
  let bestCount = 0
  // Map iteration is first-seen order, and only a strictly larger count replaces the leader.
  for (const [answer, count] of counts) if (count > bestCount) [best, bestCount] = [answer, count]
  return best
}
