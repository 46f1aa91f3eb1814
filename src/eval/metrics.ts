/**
 * Multiple-choice metrics as lm-evaluation-harness computes them:
 *   acc      = argmax_i logprob_i == gold
 *   acc_norm = argmax_i logprob_i / len(choice_i) == gold, the length in characters (Python's len:
 *              code points) of the choice without its target_delimiter (lm_eval/api/task.py,
 *              ConfigurableTask.process_results)
 * and the standard error of a mean of per-sample scores: sqrt(sample variance / n), variance with n - 1.
 */
export function argmax(values: number[]): number {
  let best = 0
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i
  return best
}

export function multipleChoiceScores(logprobs: number[], choices: string[], gold: number): {acc: number; accNorm: number} {
  return {
    acc: argmax(logprobs) === gold ? 1 : 0,
    accNorm: argmax(logprobs.map((lp, i) => lp / Math.max([...choices[i]].length, 1))) === gold ? 1 : 0,
  }
}

export function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length
}

export function meanStderr(values: number[]): number {
  const n = values.length
  if (n < 2) return NaN
  const m = mean(values)
  const variance = values.reduce((a, v) => a + (v - m) ** 2, 0) / (n - 1)
  return Math.sqrt(variance / n)
}
