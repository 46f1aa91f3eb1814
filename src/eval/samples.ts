import {createHash} from 'node:crypto'
import {PyFloat, pyFloat, pythonJson, pythonStr} from './python-json.js'

/**
 * One line of lm-evaluation-harness's `samples_<task>_<date>.jsonl`, as `evaluate()`
 * (lm_eval/evaluator.py) builds it and `EvaluationTracker.save_results_samples`
 * (lm_eval/loggers/evaluation_tracker.py) writes it: arguments as {gen_args_i: {arg_j}}, resps and
 * filtered_resps with every leaf made a string by `sanitize_list` (Python's str()), the target as
 * str(target), sha256 hashes of the document, the first request's context and the target, then
 * the sample's own metric values.
 */
export interface LmEvalSample {
  doc_id: number
  doc: unknown
  target: string
  arguments: Record<string, Record<string, string>>
  /** Per request, its one response (lm-eval's `repeats` is 1 here). */
  resps: Response[][]
  filtered_resps: Response[]
  filter: string
  metrics: string[]
  doc_hash: string
  prompt_hash: string
  target_hash: string
  [metric: string]: unknown
}

/** A log-likelihood response, [str(logprob), str(is_greedy)], a rolling one, str(logprob), or K sampled texts. */
type Response = string[] | string

/** A `loglikelihood` request (multiple_choice tasks send one per choice) and its response. */
export interface ScoredRequest {
  context: string
  continuation: string
  logprob: number
  isGreedy: boolean
}

export function loglikelihoodSample(docId: number, doc: unknown, target: string | number, requests: ScoredRequest[], metrics: SampleMetrics): LmEvalSample {
  return sample(docId, doc, String(target), requests.map((r) => [r.context, r.continuation]), requests.map((r) => [pythonStr(r.logprob), pythonStr(r.isGreedy)]), metrics)
}

/** A `loglikelihood_rolling` request (perplexity of a whole text) and its summed log-likelihood. */
export function rollingSample(docId: number, doc: unknown, text: string, logprob: number, metrics: SampleMetrics): LmEvalSample {
  return sample(docId, doc, text, [[text]], [pythonStr(logprob)], metrics)
}

/**
 * A `generate_until` request repeated K times, as one filter saw it: arguments (context,
 * str(gen_kwargs)), the K texts as resps, and what the filter made of them (a voted answer, or
 * every extracted answer).
 */
export function generationSample(docId: number, doc: unknown, target: string, context: string, genKwargs: Record<string, unknown>, texts: string[], filtered: unknown, filter: string, metrics: SampleMetrics): LmEvalSample {
  const record = sample(docId, doc, target, [[context, pythonRepr(genKwargs)]], [], metrics)
  return {...record, resps: [texts], filtered_resps: [filtered as Response], filter}
}

/** Python's repr() of JSON-like values (str() of a dict, as lm-eval writes gen_kwargs into arguments); a whole number is an int unless marked pyFloat. */
export function pythonRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None'
  if (v instanceof PyFloat) return pythonStr(v.value)
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pythonStr(v)
  if (typeof v === 'boolean') return pythonStr(v)
  if (typeof v === 'string') {
    const quote = v.includes("'") && !v.includes('"') ? '"' : "'"
    const body = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r')
    return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote
  }
  if (Array.isArray(v)) return `[${v.map(pythonRepr).join(', ')}]`
  return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pythonRepr(k)}: ${pythonRepr(x)}`).join(', ')}}`
}

/**
 * A sample's own metric values: floats (acc is 1.0 or 0.0), or for rolling tasks a
 * (log-likelihood, word or byte count) pair, which lm-eval's weighted_perplexity aggregates.
 */
type SampleMetrics = Record<string, number | [number, number]>

function sample(docId: number, doc: unknown, target: string, args: string[][], responses: Response[], metrics: SampleMetrics): LmEvalSample {
  return {
    doc_id: docId,
    doc,
    target,
    arguments: Object.fromEntries(args.map((a, i) => [`gen_args_${i}`, Object.fromEntries(a.map((v, j) => [`arg_${j}`, v]))])),
    resps: responses.map((r) => [r]),
    filtered_resps: responses,
    filter: 'none',
    metrics: Object.keys(metrics),
    doc_hash: sha256(pythonJson(doc, 2)),
    prompt_hash: sha256(args[0][0]),
    target_hash: sha256(target),
    ...Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, typeof v === 'number' ? pyFloat(v) : [pyFloat(v[0]), v[1]]])),
  }
}

/** lm-eval's `hash_string`: sha256 of the UTF-8 text, in hex. */
export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}
