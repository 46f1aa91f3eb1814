import {HybridizeError} from '../../errors.js'
import {generateSamples, getTask, type TaskName, type TaskSample} from '../../tasks/index.js'
import type {TaskSpec} from '../../tasks/task-spec.js'
import {tokenLogprobs} from '../token-logprobs.js'
import {encodePair, loglikelihood} from '../loglikelihood.js'
import {argmax, mean, meanStderr} from '../metrics.js'
import {mapOnDevices} from '../on-devices.js'
import {loglikelihoodSample, type LmEvalSample} from '../samples.js'
import {textTokenizer, type Curve, type EvalContext, type TaskResult} from './types.js'

/**
 * The synthetic retrieval tasks, scored both ways the papers do:
 *   acc         log-likelihood of every candidate answer, the best one right (lm-evaluation-harness)
 *   argmax_acc  the answer's first token is the argmax after the prompt (Gather-and-Aggregate)
 *   exact_acc   every answer token is the argmax (lm-evaluation-harness's is_greedy): greedy decoding
 *               writes the whole answer; free of acc's bias toward a choice that is a prefix of the
 *               answer (' 7' beats ' 73' by log-likelihood whenever p('3' | ' 7') < 1)
 * swept over the setting that makes them harder (pairs, or haystack length), which gives a curve.
 *
 * Evaluation stays off the students' training distribution by default: keys (and the needle's haystack) come
 * from the held-out half (tasks/key-halves.ts; `:keys=train|all` asks for another), and the sweeps go past the
 * ranges `distill --mix` draws from (pairs 10-50, haystacks 500-4000 characters) to 100 pairs (every value of
 * 0-99) and 8000 characters. A point whose prompts do not fit the model's context is skipped, with a warning:
 * truncating a prompt would cut out the dictionary it asks about. Setting the swept option
 * (`kv-retrieval:pairs=30`) scores that one point.
 */
const SWEEPS: Record<TaskName, {option?: string; label: string; values: number[]}> = {
  'kv-retrieval': {option: 'pairs', label: 'pairs', values: [10, 20, 30, 40, 50, 75, 100]},
  // A fixed four-option layout: one point, no curve.
  'mc-retrieval': {label: 'options', values: [4]},
  needle: {option: 'haystackChars', label: 'context characters', values: [500, 1000, 2000, 4000, 8000]},
  // One point, no curve (arith-cot's problems as they come).
  'arith-lookup': {label: 'problems', values: [1]},
}

const EVAL_KEYS = 'heldout'

const DEFAULT_SAMPLES = 50
/** Version 2: held-out keys by default, the sweeps past the training ranges. */
const RETRIEVAL_VERSION = 2

export interface Scored {
  acc: number
  argmaxAcc: number
  exactAcc: number
  logprobs: number[]
  /** Per choice: every token of it is the argmax (lm-eval's is_greedy). */
  greedy: boolean[]
}

/** Score one sample: one forward when every choice is a single token, else one per choice. */
export async function scoreSample(ctx: EvalContext, s: TaskSample): Promise<Scored> {
  const tok = textTokenizer(ctx)
  const pairs = s.choices.map((c) => encodePair(tok, s.prompt, c))
  const prompt = pairs[s.answerIndex].context
  const firstAnswerToken = pairs[s.answerIndex].continuation[0]
  const singleToken = pairs.every((p) => p.continuation.length === 1 && p.context.length === prompt.length)
  let logprobs: number[]
  let greedy: boolean[]
  let argmaxHit: boolean
  let exactHit: boolean
  if (singleToken) {
    const [scored] = await tokenLogprobs(ctx.lm, [prompt], [pairs.map((p) => ({t: prompt.length - 1, target: p.continuation[0]}))], {precision: ctx.precision})
    logprobs = scored.map((x) => x.logprob)
    greedy = scored.map((x) => x.greedy)
    argmaxHit = exactHit = scored[s.answerIndex].greedy
  } else {
    const results = await loglikelihood(ctx.lm, tok, s.choices.map((c) => ({context: s.prompt, continuation: c})), ctx.batchSize, undefined, ctx.precision)
    logprobs = results.map((r) => r.logprob)
    greedy = results.map((r) => r.isGreedy)
    exactHit = results[s.answerIndex].isGreedy
    const [[first]] = await tokenLogprobs(ctx.lm, [prompt], [[{t: prompt.length - 1, target: firstAnswerToken}]], {precision: ctx.precision})
    argmaxHit = first.greedy
  }
  return {acc: argmax(logprobs) === s.answerIndex ? 1 : 0, argmaxAcc: argmaxHit ? 1 : 0, exactAcc: exactHit ? 1 : 0, logprobs, greedy}
}

/** `sweepValues` replaces the sweep's (scripts score chosen points). */
export async function runRetrieval(spec: TaskSpec, ctx: EvalContext, sweepValues?: number[]): Promise<TaskResult> {
  const task = getTask(spec.name as string)
  const sweep = SWEEPS[spec.name]
  const name = [spec.name, ...Object.entries(spec.options).map(([option, value]) => `${option}=${value}`)].join(':')
  const options: Record<string, string | number> = {keys: EVAL_KEYS, ...spec.options}
  const asked = sweep.option === undefined ? undefined : spec.options[sweep.option]
  const count = ctx.limit ?? DEFAULT_SAMPLES
  const tok = textTokenizer(ctx)
  const metrics: Record<string, number> = {}
  const accCurve: Curve = {x: sweep.label, y: 'acc', points: []}
  const argmaxCurve: Curve = {x: sweep.label, y: 'argmax_acc', points: []}
  const exactCurve: Curve = {x: sweep.label, y: 'exact_acc', points: []}
  const chance: {x: number; y: number}[] = []
  for (const curve of [accCurve, argmaxCurve, exactCurve]) curve.chance = chance
  const allAcc: number[] = []
  const allArgmax: number[] = []
  const allExact: number[] = []
  const samples: LmEvalSample[] = []
  const values: number[] = []
  for (const value of typeof asked === 'number' ? [asked] : (sweepValues ?? sweep.values)) {
    const acc: number[] = []
    const arg: number[] = []
    const exact: number[] = []
    const list = generateSamples(task, sweep.option ? {seed: ctx.seed, count, ...options, [sweep.option]: value} : {seed: ctx.seed, count, ...options})
    const longest = Math.max(...list.map((s) => tok.encode(s.prompt + s.answer).length))
    if (ctx.maxPositions !== undefined && longest > ctx.maxPositions) {
      ctx.warn?.(`${name} ${sweep.label} ${value}: prompts of up to ${longest} tokens do not fit the model's context of ${ctx.maxPositions}; point skipped`)
      continue
    }
    values.push(value)
    let done = 0
    const scored = await mapOnDevices(ctx, list, async (on, s) => {
      const r = await scoreSample(on, s)
      ctx.progress(`${name} ${sweep.label} ${value}: ${++done}/${count}`)
      return r
    })
    for (const [i, s] of list.entries()) {
      const r = scored[i]
      acc.push(r.acc)
      arg.push(r.argmaxAcc)
      exact.push(r.exactAcc)
      if (ctx.logSamples) {
        const doc = {prompt: s.prompt, choices: s.choices, answer: s.answer, [sweep.label]: value}
        const requests = s.choices.map((c, k) => ({context: s.prompt, continuation: c, logprob: r.logprobs[k], isGreedy: r.greedy[k]}))
        samples.push(loglikelihoodSample(samples.length, doc, s.answerIndex, requests, {acc: r.acc, argmax_acc: r.argmaxAcc, exact_acc: r.exactAcc}))
      }
    }
    if (sweep.option) {
      const point = `${sweep.option}=${value}`
      metrics[`acc,${point}`] = mean(acc)
      metrics[`acc_stderr,${point}`] = meanStderr(acc)
      metrics[`argmax_acc,${point}`] = mean(arg)
      metrics[`argmax_acc_stderr,${point}`] = meanStderr(arg)
      metrics[`exact_acc,${point}`] = mean(exact)
      metrics[`exact_acc_stderr,${point}`] = meanStderr(exact)
    }
    chance.push({x: value, y: mean(list.map((s) => 1 / s.choices.length))})
    accCurve.points.push({x: value, y: mean(acc)})
    argmaxCurve.points.push({x: value, y: mean(arg)})
    exactCurve.points.push({x: value, y: mean(exact)})
    allAcc.push(...acc)
    allArgmax.push(...arg)
    allExact.push(...exact)
  }
  if (values.length === 0) {
    throw new HybridizeError(`${name}: no ${sweep.label} setting fits the model's context of ${ctx.maxPositions} tokens`, {code: 'E_TASK'})
  }
  return {
    task: name,
    metrics: {
      'acc,none': mean(allAcc),
      'acc_stderr,none': meanStderr(allAcc),
      'argmax_acc,none': mean(allArgmax),
      'argmax_acc_stderr,none': meanStderr(allArgmax),
      'exact_acc,none': mean(allExact),
      'exact_acc_stderr,none': meanStderr(allExact),
      ...metrics,
    },
    samples: ctx.logSamples ? samples : undefined,
    curves: sweep.option ? [accCurve, argmaxCurve, exactCurve] : undefined,
    counts: {original: allAcc.length, effective: allAcc.length},
    config: {
      task: name,
      output_type: 'multiple_choice',
      num_fewshot: 0,
      ...options,
      [sweep.label]: values,
      metric_list: ['acc', 'argmax_acc', 'exact_acc'].map((metric) => ({metric, aggregation: 'mean', higher_is_better: true})),
      metadata: {version: RETRIEVAL_VERSION},
    },
  }
}
