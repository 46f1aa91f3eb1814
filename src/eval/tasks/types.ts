import type {TextTokenizer} from '../../tokenizer/load.js'
import type {LanguageModel} from '../language-model.js'

/** What every eval task gets: the model, its tokenizer, and the run's settings. */
export interface EvalContext {
  lm: LanguageModel
  tokenizer: TextTokenizer
  limit?: number
  batchSize: number
  seed: number
  logSamples: boolean
  progress: (text: string) => void
}

/** A curve of a metric against a swept setting (pairs, context length), drawn as an image. */
export interface Curve {
  x: string
  y: string
  points: {x: number; y: number}[]
}

/** lm-evaluation-harness style: metric keys like 'acc,none' and 'acc_stderr,none'. */
export interface TaskResult {
  task: string
  metrics: Record<string, number>
  samples?: Record<string, unknown>[]
  curves?: Curve[]
}
