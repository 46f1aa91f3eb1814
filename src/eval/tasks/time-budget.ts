import {performance} from 'node:perf_hooks'
import {HybridizeError} from '../../errors.js'
import type {DecodingModel} from '../../models/decoding-model.js'
import type {TextTokenizer} from '../../tokenizer/load.js'
import {type AnswerSampling, problemSeed, sampleAnswers} from '../sample-answers.js'
import {majorityVote} from '../sampling-metrics.js'
import type {GenerationDoc} from './generation-docs.js'
import type {Curve, EvalContext, TaskConfig} from './types.js'

/**
 * `--time-budget 10s,30s,60s` on a generation task: the model gets the largest budget of wall-clock
 * seconds and samples answers for as long as it lasts, --batch-size answers to one problem at a
 * time, going round the problems (round r draws samples r·B .. r·B+B-1 of each problem in turn, so
 * that every problem has answers before any has many). A sample counts at a budget if it ended
 * within it; samples still running when the last budget is spent are cut and not counted. At each
 * budget b:
 *   maj_acc,budget=b    the problems whose majority vote (over the answers sampled by then) is right
 *   coverage,budget=b   the problems with at least one right answer by then
 *   samples,budget=b    the answers sampled by then, over all problems
 * A problem without answers by then counts as wrong. The clock starts after one short warm-up batch
 * (WebGPU compiles its pipelines on first use), so every model is timed on the same footing.
 */
export interface TimeBudgetRun {
  lm: DecodingModel
  tok: TextTokenizer
  name: string
  docs: GenerationDoc[]
  prompts: number[][]
  sampling: AnswerSampling
  budgets: number[]
  ctx: EvalContext
}

export async function runTimeBudget(run: TimeBudgetRun): Promise<{metrics: Record<string, number>; curves: Curve[]; metricList: TaskConfig['metric_list']}> {
  const {lm, tok, docs, prompts, sampling, budgets, ctx} = run
  const B = ctx.batchSize
  if (ctx.logSamples) ctx.warn?.(`${run.name}: no samples file under --time-budget (each problem has a different number of samples)`)
  const last = budgets[budgets.length - 1]
  await sampleAnswers(lm, tok, prompts[0], {...sampling, maxGenToks: Math.min(2, sampling.maxGenToks), n: B, seed: ctx.seed, firstStream: 0})

  const now = ctx.clock ?? (() => performance.now() / 1000)
  const start = now()
  const clock = () => now() - start
  const deadline = () => clock() >= last
  const drawn: {answer: string | undefined; seconds: number}[][] = docs.map(() => [])
  for (let round = 0; !deadline(); round++) {
    for (const [d] of docs.entries()) {
      if (deadline()) break
      ctx.progress(`${run.name}: ${clock().toFixed(1)} of ${last} s, round ${round + 1}, problem ${d + 1}/${docs.length}`)
      const seed = problemSeed(ctx.seed, d)
      for (const s of await sampleAnswers(lm, tok, prompts[d], {...sampling, n: B, seed, firstStream: round * B, clock, deadline})) {
        if (!s.cut && s.seconds <= last) drawn[d].push(s)
      }
    }
  }

  const metrics: Record<string, number> = {}
  const majority: Curve = {x: 'seconds', y: 'accuracy', chart: 'accuracy_vs_seconds', label: 'majority vote', points: []}
  const coverage: Curve = {x: 'seconds', y: 'accuracy', chart: 'accuracy_vs_seconds', label: 'coverage', points: []}
  const count: Curve = {x: 'seconds', y: 'answers sampled', chart: 'samples_vs_seconds', points: [], autoRange: true}
  for (const b of budgets) {
    const within = drawn.map((list) => list.filter((s) => s.seconds <= b).map((s) => s.answer))
    const maj = within.filter((answers, d) => answers.length > 0 && majorityVote(answers) === docs[d].gold).length / docs.length
    const cover = within.filter((answers, d) => answers.includes(docs[d].gold)).length / docs.length
    const n = within.reduce((a, list) => a + list.length, 0)
    const at = budgetLabel(b)
    metrics[`maj_acc,budget=${at}`] = maj
    metrics[`coverage,budget=${at}`] = cover
    metrics[`samples,budget=${at}`] = n
    majority.points.push({x: b, y: maj})
    coverage.points.push({x: b, y: cover})
    count.points.push({x: b, y: n})
  }
  return {
    metrics,
    curves: [majority, coverage, count],
    metricList: [
      {metric: 'maj_acc', aggregation: 'mean', higher_is_better: true},
      {metric: 'coverage', aggregation: 'mean', higher_is_better: true},
      {metric: 'samples', aggregation: 'sum', higher_is_better: true},
    ],
  }
}

/**
 * `--time-budget` as seconds, ascending and without repeats: a comma-separated list of durations,
 * each a number with an optional unit, s (the default), m or h: `10s,30s,1m`.
 */
export function parseTimeBudgets(text: string): number[] {
  const units: Record<string, number> = {'': 1, s: 1, m: 60, h: 3600}
  const seconds = text.split(',').map((item) => {
    const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(s|m|h)?\s*$/.exec(item)
    const v = m ? Number(m[1]) * units[m[2] ?? ''] : NaN
    if (!(v > 0)) throw new HybridizeError(`--time-budget must be durations such as 10s,30s,1m, got '${text}'`, {code: 'E_USAGE', exitCode: 2})
    return v
  })
  return [...new Set(seconds)].sort((a, b) => a - b)
}

/** A budget in seconds as the metric keys write it: 10s, 1.5s. */
export function budgetLabel(seconds: number): string {
  return `${seconds}s`
}
