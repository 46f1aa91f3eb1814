import type {Precision} from '../../engine/precision.js'
import {HybridizeError} from '../../errors.js'
import type {KvCacheDtype} from '../../models/decode-cache.js'
import type {TextTokenizer} from '../../tokenizer/load.js'
import type {LanguageModel} from '../../models/language-model.js'
import type {LmEvalSample} from '../samples.js'
import type {GenerationSettings} from './generation.js'

/** What every eval task gets: the model, its tokenizer, and the run's settings. */
export interface EvalContext {
  lm: LanguageModel
  /** `--devices N`: the same model on devices 1 .. N − 1, which share the scoring tasks' items (eval/on-devices.ts). */
  peers?: LanguageModel[]
  /** Absent when the model folder has none and no task needs text (throughput). */
  tokenizer?: TextTokenizer
  limit?: number
  batchSize: number
  seed: number
  logSamples: boolean
  progress: (text: string) => void
  /** The token the first token of a text is predicted from (lm-eval's prefix_token_id: BOS, else EOS). */
  prefixTokenId?: number
  /** How generation tasks sample (default: greedy, one sample). */
  generation?: GenerationSettings
  /** Linear layers' matmuls in every forward, scoring and decoding (engine/precision.ts); f32 when absent. */
  precision?: Precision
  /** Attention's key/value cache where a task decodes (models/decode-cache.ts); f32 when absent. */
  kvCacheDtype?: KvCacheDtype
  /** Seconds on the clock that time budgets are measured on (default: performance.now; tests pass a counter). */
  clock?: () => number
  /** Where a sampled answer ends (the model's generation_config.json). */
  eosTokenIds?: readonly number[]
  /** The model's context in tokens (config.json's max_position_embeddings), where it has one. */
  maxPositions?: number
  /** A line for the user about their input (stderr; silent under --quiet). */
  warn?: (text: string) => void
}

/** The context's tokenizer, for tasks that work on text. */
export function textTokenizer(ctx: EvalContext): TextTokenizer {
  if (!ctx.tokenizer) throw new HybridizeError('this task needs the model\'s tokenizer (tokenizer.json), and the model folder has none', {code: 'E_NO_TOKENIZER'})
  return ctx.tokenizer
}

/** A curve of a metric against a swept setting (pairs, context length), drawn as an image. */
export interface Curve {
  x: string
  y: string
  points: {x: number; y: number}[]
  /** Curves with the same chart share one image, a line per model and label (default: one chart per y). */
  chart?: string
  /** Told apart within a chart, e.g. 'batch 4'. */
  label?: string
  /** The y axis spans the data; otherwise [0, 1], for accuracies. */
  autoRange?: boolean
  logX?: boolean
  /** What guessing among the candidates scores at each x, drawn as the chart's chance line. */
  chance?: {x: number; y: number}[]
}

/**
 * lm-evaluation-harness style: metric keys like 'acc,none' and 'acc_stderr,none' (a standard error
 * that cannot be computed, from one sample, is NaN here and "N/A" in the results file).
 */
export interface TaskResult {
  task: string
  metrics: Record<string, number>
  /** Documents in the task and documents evaluated (--limit): lm-eval's n-samples original / effective. */
  counts: {original: number; effective: number}
  config: TaskConfig
  /** lm-eval's per-sample records, with --log-samples. */
  samples?: LmEvalSample[]
  curves?: Curve[]
}

/**
 * A task's entry in lm-evaluation-harness's `configs` (the fields of its TaskConfig that apply):
 * `metric_list` also gives `higher_is_better`, and `metadata.version` gives `versions`.
 */
export interface TaskConfig {
  task: string
  output_type: 'multiple_choice' | 'loglikelihood_rolling' | 'generate_until' | 'throughput'
  num_fewshot: number
  metric_list: {metric: string; aggregation: string; higher_is_better: boolean}[]
  metadata: {version: number}
  [field: string]: unknown
}

