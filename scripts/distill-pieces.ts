/**
 * What the distillation experiments (scripts/distill-experiment.ts, scripts/natural-curves.ts)
 * share: CLI processes at most --jobs at once, one MOHAWK stage per `hybridize distill` (skipped
 * when done, resumed from its checkpoint), the probe that times a stage's tokens a second,
 * when chains run that many at once end, heads files written by the experiment, and kv-retrieval
 * scored as `hybridize eval` scores it.
 */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {readFile, writeFile} from 'node:fs/promises'
import {join, resolve} from 'node:path'
import {runRetrieval} from '../src/eval/tasks/retrieval.js'
import type {LanguageModel} from '../src/models/language-model.js'
import type {TextTokenizer} from '../src/tokenizer/load.js'
import {Random} from '../src/util/random.js'

export type Stage = 1 | 2 | 3

/** A name as a folder name. */
export const slugOf = (name: string): string => name.replace(/[^a-z0-9]+/gi, '-').replace(/-$/, '').toLowerCase()

/**
 * At most `size` tasks at once; a waiting task of lower priority number goes first (ties: first come),
 * so that a chain's next stage overtakes later chains' first stages and whole chains finish early.
 */
export class Slots {
  private free: number
  private waiting: {priority: number; order: number; wake: () => void}[] = []
  private order = 0

  constructor(size: number) {
    this.free = Math.max(1, size)
  }

  private stopped = false

  async run<T>(priority: number, task: () => Promise<T>): Promise<T> {
    if (this.free === 0) await new Promise<void>((wake) => this.waiting.push({priority, order: this.order++, wake}))
    else this.free--
    try {
      if (this.stopped) throw new Error('stopped before it started')
      return await task()
    } finally {
      // Handed on after the finished task's continuation has run (it may ask for the next stage of its chain).
      setImmediate(() => this.release())
    }
  }

  private release(): void {
    this.waiting.sort((a, b) => a.priority - b.priority || a.order - b.order)
    const next = this.waiting.shift()
    if (next) next.wake()
    else this.free++
  }

  /** Starts nothing more: tasks waiting for a slot, and any asked for later, fail. */
  stop(): void {
    this.stopped = true
  }
}

/** `hybridize ARGV` in a slot; resolves to its stdout when `capture`, else '' (its stdout is ours). */
export function hybridizeCli(slots: Slots): (argv: string[], opts?: {priority?: number; capture?: boolean}) => Promise<string> {
  return (argv, {priority = 0, capture = false} = {}) => slots.run(priority, async () => {
    console.error(`$ hybridize ${argv.join(' ')}`)
    let stdout = ''
    const code = await new Promise<number | null>((done, fail) => {
      const child = spawn(process.execPath, [resolve('bin/run.js'), ...argv], {stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit']})
      child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
      child.on('error', fail).on('exit', done)
    })
    if (code !== 0) throw new Error(`hybridize ${argv[0]} failed (${code})`)
    return stdout
  })
}

export type Cli = ReturnType<typeof hybridizeCli>

/** What every stage of an experiment passes to `hybridize distill` besides its own budget. */
export interface StageSettings {
  teacherDir: string
  device: string
  /** Data, mix, shapes, seed, device, saving: the flags every stage shares. */
  common: string[]
}

export type DistillStage = (name: string, from: string, stage: Stage, tokens: number, lr: number, runs: string, priority?: number) => Promise<string>

/**
 * `hybridize distill` of one stage into `runs/name` unless its student exists (resumed from its last
 * checkpoint when one is there); resolves to the student folder. Chains that need the same run share
 * one promise.
 */
export function stageRunner(cli: Cli, s: StageSettings): DistillStage {
  const started = new Map<string, Promise<string>>()
  return (name, from, stage, tokens, lr, runs, priority = 0) => {
    const run = join(runs, name)
    let result = started.get(run)
    if (!result) {
      result = (async () => {
        if (!existsSync(join(run, 'student', 'model.safetensors'))) {
          const resume = existsSync(join(run, 'checkpoints', 'last'))
          await cli(resume ? ['distill', '--resume', '--out', run, '--device', s.device] : ['distill', from, '--teacher', s.teacherDir, '--stage', String(stage), '--tokens', String(tokens), '--lr', String(lr), ...s.common, '--out', run], {priority})
        }
        return join(run, 'student')
      })()
      started.set(run, result)
    }
    return result
  }
}

/**
 * Tokens a second of one distill process for each stage of each of `students`, all of them running
 * at once: the median of the later steps of a short run (the first steps include shader compilation);
 * and the seconds a process spends outside its steps (start, loading, compiling, saving), the most of any.
 * A student whose `runsStage(i, stage)` is false skips that stage (its rate NaN).
 */
export async function probeRates(
  distillStage: DistillStage, students: string[], folder: string, rowTokens: number, steps = 24, runsStage: (i: number, stage: Stage) => boolean = () => true,
): Promise<{rates: [number, number, number][]; startSeconds: number}> {
  const rates: number[][] = students.map(() => [NaN, NaN, NaN])
  let startSeconds = 0
  for (const stage of [1, 2, 3] as const) {
    const runs = join(folder, `stage${stage}`)
    const probed = [...students.keys()].filter((i) => runsStage(i, stage))
    const started = Date.now()
    await Promise.all(probed.map((i) => distillStage(String(i), students[i], stage, steps * rowTokens, 1e-4, runs)))
    const wall = (Date.now() - started) / 1000
    await Promise.all(probed.map(async (i) => {
      const lines = (await readFile(join(runs, String(i), 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as {tokens_per_s: number; elapsed_s: number})
      const later = lines.slice(Math.floor(lines.length / 2)).map((m) => m.tokens_per_s).sort((a, b) => a - b)
      rates[i][stage - 1] = later[Math.floor(later.length / 2)]
      startSeconds = Math.max(startSeconds, wall - lines.at(-1)!.elapsed_s)
    }))
  }
  return {rates: rates as [number, number, number][], startSeconds}
}

/**
 * When the last of `durations` ends, each started in order on the first of `jobs` slots to come free
 * (as Slots runs the chains; a chain's stages keep its slot, since they go first).
 */
export function makespan(durations: number[], jobs: number): number {
  const free = new Array<number>(Math.max(1, jobs)).fill(0)
  for (const d of durations) {
    const i = free.indexOf(Math.min(...free))
    free[i] += d
  }
  return Math.max(...free)
}

/** heads.json naming `selected` (every one kept by `rewrite --heads FILE`), for the teacher `like` was made for. */
export async function writeHeadsFile(like: string, to: string, selected: number[][], note: string): Promise<void> {
  const json = JSON.parse(await readFile(like, 'utf8')) as Record<string, unknown>
  await writeFile(to, JSON.stringify({model: json.model, selected, note}, null, 2) + '\n')
}

/** heads.json with `keep` heads drawn uniformly (seeded) in place of find-heads' selection. */
export async function writeRandomHeads(like: string, to: string, keep: number, cfg: {num_hidden_layers: number; num_attention_heads: number}, seed = 12345): Promise<void> {
  const all = Array.from({length: cfg.num_hidden_layers * cfg.num_attention_heads}, (_, i) => [Math.floor(i / cfg.num_attention_heads), i % cfg.num_attention_heads])
  await writeHeadsFile(like, to, new Random(seed).sampleWithoutReplacement(all, keep), `${keep} heads drawn at random (seed ${seed}) for comparison`)
}

/** `pairs` (comma-separated) if given, else 4, 8, ... up to the teacher's training maximum, else what eval sweeps. */
export async function retrievalPairs(pairs: string | undefined, teacherDir: string): Promise<number[]> {
  if (pairs) return pairs.split(',').map(Number)
  const training = await readFile(join(teacherDir, 'training.json'), 'utf8').then((t) => JSON.parse(t) as {recipe?: {maxPairs?: number}}).catch(() => undefined)
  const max = training?.recipe?.maxPairs
  return max ? Array.from({length: Math.floor(max / 4)}, (_, i) => 4 * (i + 1)) : [10, 20, 30, 40, 50]
}

/** acc: log-likelihood over the candidates, per pair count too; exact: greedy decoding writes the answer. */
export interface KvFigures {
  acc: number
  exact: number
  byPairs: Record<string, number>
  exactByPairs: Record<string, number>
}

/** kv-retrieval accuracy as `hybridize eval` scores it (its seed and batch), at each of `pairs`, on `keys`. */
export async function kvAccuracy(lm: LanguageModel, tokenizer: TextTokenizer, samples: number, pairs: number[], keys: string): Promise<KvFigures> {
  const ctx = {lm, tokenizer, limit: samples, batchSize: 8, seed: 1234, logSamples: false, progress: () => {}}
  const r = await runRetrieval({name: 'kv-retrieval', options: {keys}}, ctx, pairs)
  const metric = (prefix: string) => Object.fromEntries(Object.entries(r.metrics).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]))
  return {acc: r.metrics['acc,none'], exact: r.metrics['exact_acc,none'], byPairs: metric('acc,pairs='), exactByPairs: metric('exact_acc,pairs=')}
}
