import {HybridizeError} from '../../errors.js'
import type {DecodingModel} from '../../models/decoding-model.js'
import type {TextTokenizer} from '../../tokenizer/load.js'
import {mean, meanStderr} from '../metrics.js'
import {pyFloat} from '../python-json.js'
import {type AnswerSampling, encodePrompt, problemSeed, sampleAnswers, UNTIL} from '../sample-answers.js'
import {generationSample, type LmEvalSample} from '../samples.js'
import {majorityVote, NO_ANSWER, passAtK} from '../sampling-metrics.js'
import {ARITHMETIC_TASK, loadGenerationDocs} from './generation-docs.js'
import {runTimeBudget} from './time-budget.js'
import {isDecodingModel, powersUpTo} from './throughput.js'
import {textTokenizer, type EvalContext, type TaskConfig, type TaskResult} from './types.js'

/**
 * The sampler's settings of `eval` (--num-samples, --temperature, ...), and a time budget if one is
 * given; how the decode computes is the run's (EvalContext's precision and kvCacheDtype).
 */
export interface GenerationSettings extends Omit<AnswerSampling, 'eosTokenIds' | 'precision' | 'kvCacheDtype'> {
  numSamples: number
  /** --time-budget: seconds, ascending; each model samples until the last is spent. */
  timeBudgets?: number[]
}

/** Greedy, one sample: lm-eval gsm8k's generation_kwargs, and its default max_gen_toks. */
export const DEFAULT_GENERATION: GenerationSettings = {numSamples: 1, temperature: 0, topP: 1, topK: 0, maxGenToks: 256}

export function isGenerationTask(spec: string): boolean {
  return spec === ARITHMETIC_TASK || spec.startsWith('gen:')
}

/**
 * `gen:<file.jsonl>` and `arith-cot`: K answers sampled per problem (--num-samples, in batches of
 * at most --batch-size), each reduced to its number (answer-extraction.ts), then, under
 * lm-evaluation-harness's `metric,filter` keys (its gsm8k-cot-self-consistency task names the
 * filters):
 *   exact_match,score-first   the first sample's answer is the gold number (majority of 1)
 *   exact_match,maj@k         the majority vote of the first k samples is (k = 2, 4, ... K)
 *   pass@k,extract            coverage: the chance that one of k samples is right, Chen et al.'s
 *                             unbiased estimator over all K samples (k = 1, 2, 4, ... K)
 * each with its standard error over problems. With --time-budget the task runs time-budget.ts instead.
 */
export async function runGeneration(spec: string, ctx: EvalContext, settings: GenerationSettings, eosTokenIds: readonly number[]): Promise<TaskResult> {
  const lm = ctx.lm
  if (!isDecodingModel(lm)) throw new HybridizeError(`${spec}: this model cannot decode incrementally`, {code: 'E_TASK'})
  const tok = textTokenizer(ctx)
  const {name, docs: all} = await loadGenerationDocs(spec, ctx.seed)
  const docs = ctx.limit === undefined ? all : all.slice(0, ctx.limit)
  const bos = ctx.prefixTokenId === undefined ? undefined : tok.decode([ctx.prefixTokenId])
  const prompts = docs.map((d, i) => {
    const ids = encodePrompt(tok, d.prompt, bos)
    if (ids.length === 0) throw new HybridizeError(`${name}: problem ${i}'s prompt encodes to no tokens`, {code: 'E_TASK'})
    return ids
  })
  const sampling = {...settings, eosTokenIds, precision: ctx.precision, kvCacheDtype: ctx.kvCacheDtype}
  const counts = {original: all.length, effective: docs.length}
  if (settings.timeBudgets) {
    const r = await runTimeBudget({lm, tok, name, docs, prompts, sampling, budgets: settings.timeBudgets, ctx})
    return {task: name, metrics: r.metrics, curves: r.curves, counts, config: taskConfig(name, settings, r.metricList)}
  }
  const K = settings.numSamples
  const ks = powersUpTo(1, K)
  const scores = new Map<string, number[]>()
  const score = (key: string, v: number) => (scores.get(key) ?? scores.set(key, []).get(key)!).push(v)
  const samples: LmEvalSample[] = []
  for (const [d, doc] of docs.entries()) {
    ctx.progress(`${name} ${d}/${docs.length}`)
    const drawn = await sampleAll(lm, tok, prompts[d], sampling, K, ctx.batchSize, problemSeed(ctx.seed, d))
    const answers = drawn.map((s) => s.answer)
    const texts = drawn.map((s) => s.text)
    // One record a filter, as lm-eval logs a task with several filters: a vote's answer and its
    // exact_match, then every extracted answer and the coverage they give.
    const record = (filter: string, filtered: unknown, metrics: Record<string, number>) => {
      for (const [metric, v] of Object.entries(metrics)) score(`${metric},${filter}`, v)
      if (ctx.logSamples) samples.push(generationSample(d, doc.doc, doc.gold, doc.prompt, genKwargs(settings), texts, filtered, filter, metrics))
    }
    for (const k of ks) {
      const vote = majorityVote(answers.slice(0, k))!
      record(k === 1 ? 'score-first' : `maj@${k}`, vote, {exact_match: vote === doc.gold ? 1 : 0})
    }
    const right = answers.filter((a) => a === doc.gold).length
    record('extract', answers.map((a) => a ?? NO_ANSWER), Object.fromEntries(ks.map((k) => [`pass@${k}`, passAtK(K, right, k)])))
  }
  const metrics: Record<string, number> = {}
  for (const [key, values] of scores) {
    const [metric, filter] = key.split(',')
    metrics[key] = mean(values)
    metrics[`${metric}_stderr,${filter}`] = meanStderr(values)
  }
  const metricList = [
    {metric: 'exact_match', aggregation: 'mean', higher_is_better: true},
    ...ks.map((k) => ({metric: `pass@${k}`, aggregation: 'mean', higher_is_better: true})),
  ]
  return {
    task: name,
    metrics,
    samples: ctx.logSamples ? samples : undefined,
    counts,
    config: taskConfig(name, settings, metricList),
  }
}

/** K answers to one prompt in batches of at most `batchSize` (samples 0..K-1 of one stream set). */
async function sampleAll(lm: DecodingModel, tok: TextTokenizer, prompt: number[], sampling: AnswerSampling, K: number, batchSize: number, seed: number) {
  const out = []
  for (let first = 0; first < K; first += batchSize) {
    out.push(...(await sampleAnswers(lm, tok, prompt, {...sampling, n: Math.min(batchSize, K - first), seed, firstStream: first})))
  }
  return out
}

/** lm-eval's generation_kwargs, as this run sampled. */
function genKwargs(s: GenerationSettings): Record<string, unknown> {
  return {until: UNTIL, do_sample: s.temperature > 0, temperature: pyFloat(s.temperature), top_p: pyFloat(s.topP), top_k: s.topK, max_gen_toks: s.maxGenToks}
}

function taskConfig(name: string, s: GenerationSettings, metricList: TaskConfig['metric_list']): TaskConfig {
  return {
    task: name,
    output_type: 'generate_until',
    doc_to_text: 'prompt',
    doc_to_target: 'answer',
    num_fewshot: 0,
    repeats: s.timeBudgets ? null : s.numSamples,
    generation_kwargs: genKwargs(s),
    time_budgets: s.timeBudgets ?? null,
    metric_list: metricList,
    metadata: {version: 1},
  }
}
