import {HybridizeError} from '../../errors.js'
import type {TextTokenizer} from '../../tokenizer/load.js'
import type {LanguageModel} from '../../models/language-model.js'

/** What every eval task gets: the model, its tokenizer, and the run's settings. */
export interface EvalContext {
  lm: LanguageModel
  /** Absent when the model folder has none and no task needs text (throughput). */
  tokenizer?: TextTokenizer
  limit?: number
  batchSize: number
  seed: number
  logSamples: boolean
  progress: (text: string) => void
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
}

/** lm-evaluation-harness style: metric keys like 'acc,none' and 'acc_stderr,none'. */
export interface TaskResult {
  task: string
  metrics: Record<string, number>
  samples?: Record<string, unknown>[]
  curves?: Curve[]
}
