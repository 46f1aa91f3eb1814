import {HybridizeError} from '../errors.js'
import {generateSamples, getTask, isTaskName, taskNames, type TaskName} from '../tasks/index.js'
import {Random} from '../util/random.js'
import type {PieceSource} from './token-stream.js'

/**
 * `--mix kv-retrieval:0.1[,needle:0.05]`: synthetic task samples blended into the text at a
 * fraction of the sequences. Each sample is its prompt followed by its answer, one document.
 * The setting that makes a task harder is drawn per sample from a range: by default 10-50 pairs
 * and 500-4000 haystack characters, the range of Gather-and-Aggregate's sweep, which eval's sweep
 * goes past (to 100 pairs, 8000 characters) to score lengths no student was distilled on;
 * `:pairs=2-16` after the fraction sets another (e.g. the range a small teacher was trained on). Keys (and the
 * needle's haystack) always come from the `train` half of the key vocabulary (tasks/key-halves.ts),
 * so that eval's held-out keys stay unseen.
 */
export interface MixEntry {
  task: TaskName
  fraction: number
  /** The task option drawn per sample, uniformly from min to max. */
  range?: OptionRange
}

export interface OptionRange {
  option: string
  min: number
  max: number
}

const SWEPT_OPTION: Partial<Record<TaskName, OptionRange>> = {
  'kv-retrieval': {option: 'pairs', min: 10, max: 50},
  needle: {option: 'haystackChars', min: 500, max: 4000},
}

export function parseMix(spec: string | undefined): MixEntry[] {
  if (!spec) return []
  const entries = spec.split(',').map((part): MixEntry => {
    const m = /^\s*([\w-]+)\s*:\s*([0-9.]+)\s*(?::\s*(\w+)\s*=\s*(\d+)\s*-\s*(\d+)\s*)?$/.exec(part)
    const fraction = m ? Number(m[2]) : NaN
    if (!m || !(fraction > 0 && fraction < 1)) {
      throw new HybridizeError(`--mix '${part}': expected task:fraction with 0 < fraction < 1, optionally :option=min-max (e.g. kv-retrieval:0.1:pairs=10-50)`, {code: 'E_MIX'})
    }
    const task = m[1]
    if (!isTaskName(task)) throw new HybridizeError(`--mix: unknown task '${task}' (tasks: ${taskNames.join(', ')})`, {code: 'E_MIX'})
    const range = m[3] ? {option: m[3], min: Number(m[4]), max: Number(m[5])} : SWEPT_OPTION[task]
    if (range && range.max < range.min) throw new HybridizeError(`--mix '${part}': the range ${range.min}-${range.max} is empty`, {code: 'E_MIX'})
    const defaults: Record<string, unknown> = getTask(task).defaults
    if (range && typeof defaults[range.option] !== 'number') {
      const numeric = Object.keys(defaults).filter((option) => typeof defaults[option] === 'number')
      throw new HybridizeError(`--mix '${part}': ${task} has no numeric option '${range.option}' (options: ${numeric.join(', ') || 'none'})`, {code: 'E_MIX'})
    }
    return {task, fraction, range}
  })
  const total = entries.reduce((s, e) => s + e.fraction, 0)
  if (total >= 1) throw new HybridizeError(`--mix fractions add up to ${total}; they must leave room for the text (< 1)`, {code: 'E_MIX'})
  return entries
}

/** Which source sequence `index` comes from: an entry of `mix`, or undefined for the text. */
export function sourceOf(mix: readonly MixEntry[], seed: number, index: number): TaskName | undefined {
  const u = new Random(seed, MIX_STREAM, index).float()
  let acc = 0
  for (const e of mix) {
    acc += e.fraction
    if (u < acc) return e.task
  }
  return undefined
}

const MIX_STREAM = 0x6d6978
const OPTION_STREAM = 0x6f7074
const TRAINING_SAMPLES_STREAM = 0x74726e

export interface SampleCursor {
  /** Index of the next sample to draw. */
  next: number
}

/**
 * Samples of one task, in order, as pieces of text. Their seed is derived from the run's, so that
 * training never draws the very samples evaluation scores under the same `--seed`.
 */
export class TaskSampleSource implements PieceSource<SampleCursor> {
  private at: number
  private readonly seed: number

  constructor(private readonly entry: MixEntry, runSeed: number, cursor: SampleCursor = {next: 0}) {
    this.at = cursor.next
    this.seed = new Random(runSeed, TRAINING_SAMPLES_STREAM).uint32()
  }

  get cursor(): SampleCursor {
    return {next: this.at}
  }

  async next(): Promise<{text: string; endsDocument: boolean}> {
    const r = this.entry.range
    const options = r ? {[r.option]: r.min + new Random(this.seed, OPTION_STREAM, this.at).int(r.max - r.min + 1)} : {}
    const [sample] = generateSamples(getTask(this.entry.task), {seed: this.seed, count: 1, first: this.at, ...options, keys: 'train'})
    this.at++
    return {text: sample.prompt + sample.answer, endsDocument: true}
  }

  async close(): Promise<void> {}
}
