import {mkdir, readdir, readFile, rm, stat} from 'node:fs/promises'
import {join} from 'node:path'
import type {Tensor} from '../engine/tensor.js'
import type {LossScalerState} from '../train/loss-scaler.js'
import {FormatError, HybridizeError} from '../errors.js'
import {withAtomicFolder, writeFileAtomic} from '../io/atomic.js'
import {openCheckpoint} from '../io/safetensors/checkpoint.js'
import {writeSafetensors, type TensorToWrite} from '../io/safetensors/writer.js'
import type {DataPosition} from '../data/batches.js'
import type {DilocoState} from './diloco.js'
import type {StageNumber} from './options.js'

/**
 * Training checkpoints under `<out>/checkpoints/`: one folder per save, `stage<S>-step<N>`, holding
 *   model.safetensors      every student weight
 *   optimizer.safetensors  AdamW moments, `exp_avg.<name>` and `exp_avg_sq.<name>`
 *   state.json             stage, step, optimizer step count, seed and data position
 *   outer.safetensors      DiLoCo workers only: the round's start `start.<name>` and the outer
 *                          momentum `momentum.<name>` (diloco.ts)
 * A save builds the folder under a temporary name and renames it into place, then rewrites the
 * one-line file `last` (itself atomically) to name it: a crash or a second Ctrl-C at any moment
 * leaves `last` naming a complete checkpoint.
 */
export interface TrainingState {
  format: 'hybridize-distill-checkpoint'
  version: 1
  /** Index into the run's stage list, and that stage. */
  stageIndex: number
  stage: StageNumber
  /** Optimizer steps done in this stage. */
  step: number
  /** AdamW's own step count (bias correction) for this stage's optimizers. */
  optimizerStep: number
  seed: number
  data: DataPosition
  /** Lines of metrics.jsonl written up to this point. */
  metricsLines: number
  /** Mixed precision: this stage's loss scaler, which a resumed run continues from. */
  lossScale?: LossScalerState
}

export interface CheckpointContents {
  weights: ReadonlyMap<string, Tensor>
  /** Optimizer moments by parameter name. */
  moments: {name: string; m: Tensor; v: Tensor}[]
  state: TrainingState
  outer?: DilocoState
}

const LAST = 'last'
const NAME = /^stage(\d)-step(\d+)$/
/** Complete checkpoints kept; older ones are removed after each save. */
const KEEP = 2

export const checkpointsDir = (out: string): string => join(out, 'checkpoints')

export async function saveCheckpoint(out: string, c: CheckpointContents): Promise<string> {
  const dir = checkpointsDir(out)
  await mkdir(dir, {recursive: true})
  const name = `stage${c.state.stage}-step${c.state.step}`
  const f32 = (tensorName: string, t: Tensor): TensorToWrite => ({name: tensorName, dtype: 'F32', shape: t.shape, data: () => t.toFloat32()})
  await withAtomicFolder(
    join(dir, name),
    async (tmp) => {
      await writeSafetensors(join(tmp, 'model.safetensors'), [...c.weights].map(([n, t]) => f32(n, t)))
      await writeSafetensors(join(tmp, 'optimizer.safetensors'), c.moments.flatMap(({name: n, m, v}) => [f32(`exp_avg.${n}`, m), f32(`exp_avg_sq.${n}`, v)]))
      if (c.outer) await writeSafetensors(join(tmp, OUTER), [...outerTensors('start', c.outer.start), ...outerTensors('momentum', c.outer.momentum)])
      await writeFileAtomic(join(tmp, 'state.json'), JSON.stringify(c.state) + '\n')
    },
    {overwrite: true},
  )
  await writeFileAtomic(join(dir, LAST), name + '\n')
  await prune(dir, name)
  return join(dir, name)
}

const OUTER = 'outer.safetensors'

function outerTensors(prefix: string, values: Map<string, Float32Array>): TensorToWrite[] {
  return [...values].map(([name, data]) => ({name: `${prefix}.${name}`, dtype: 'F32', shape: [data.length], data}))
}

async function prune(dir: string, newest: string): Promise<void> {
  const order = (n: string): number => {
    const m = NAME.exec(n)!
    return Number(m[1]) * 1e12 + Number(m[2])
  }
  const saved = (await readdir(dir)).filter((n) => NAME.test(n) && n !== newest).sort((a, b) => order(b) - order(a))
  for (const old of saved.slice(KEEP - 1)) await rm(join(dir, old), {recursive: true, force: true})
}

export interface LoadedCheckpoint {
  folder: string
  state: TrainingState
  weights: Map<string, Float32Array>
  moments: Map<string, {m: Float32Array; v: Float32Array}>
  /** A DiLoCo worker's round state, when the checkpoint has one. */
  outer?: DilocoState
}

/** The checkpoint `last` names, read whole; a one-line error when there is none or it is damaged. */
export async function loadLastCheckpoint(out: string): Promise<LoadedCheckpoint> {
  const dir = checkpointsDir(out)
  let name: string
  try {
    name = (await readFile(join(dir, LAST), 'utf8')).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HybridizeError(`--resume: ${out} has no checkpoint yet (${join(dir, LAST)} is missing)`, {code: 'E_RESUME'})
    throw err
  }
  if (!NAME.test(name)) throw new FormatError(`${join(dir, LAST)}: '${name}' does not name a checkpoint`)
  const folder = join(dir, name)
  let state: TrainingState
  try {
    state = JSON.parse(await readFile(join(folder, 'state.json'), 'utf8')) as TrainingState
  } catch (err) {
    throw new FormatError(`${folder}: state.json is missing or not JSON (${(err as Error).message})`)
  }
  if (state.format !== 'hybridize-distill-checkpoint' || state.version !== 1) throw new FormatError(`${folder}/state.json: not a hybridize distill checkpoint (version 1)`)
  const weights = await readAll(join(folder, 'model.safetensors'))
  const saved = await readAll(join(folder, 'optimizer.safetensors'))
  const moments = new Map<string, {m: Float32Array; v: Float32Array}>()
  for (const [n, m] of saved) {
    if (!n.startsWith('exp_avg.')) continue
    const param = n.slice('exp_avg.'.length)
    const v = saved.get(`exp_avg_sq.${param}`)
    if (!v) throw new FormatError(`${folder}/optimizer.safetensors: exp_avg_sq.${param} is missing`)
    moments.set(param, {m, v})
  }
  return {folder, state, weights, moments, outer: await readOuter(join(folder, OUTER))}
}

async function readOuter(file: string): Promise<DilocoState | undefined> {
  if (!(await stat(file).catch(() => undefined))) return undefined
  const saved = await readAll(file)
  const part = (prefix: string) => new Map([...saved].filter(([n]) => n.startsWith(prefix)).map(([n, v]) => [n.slice(prefix.length), v]))
  return {start: part('start.'), momentum: part('momentum.')}
}

async function readAll(file: string): Promise<Map<string, Float32Array>> {
  const ckpt = await openCheckpoint(file)
  try {
    const out = new Map<string, Float32Array>()
    for (const n of ckpt.names()) out.set(n, await ckpt.readF32(n))
    return out
  } finally {
    await ckpt.close()
  }
}

/**
 * What a killed run leaves in its folder, by the temporary names io/atomic.ts gives: the student
 * folder being built or replaced (`student.tmp-<pid>`, `student.old-<pid>`) and files being
 * rewritten (`metrics.jsonl.tmp-<pid>-<n>`, ...). Only these exact names: anything else in the
 * run folder may be the user's.
 */
const UNFINISHED_IN_RUN = /^(?:student\.(?:tmp|old)-\d+|(?:run\.json|metrics\.jsonl|loss-stage[123]\.svg)\.tmp-\d+-\d+)$/

/** Remove half-written checkpoints and outputs a killed run left behind (`*.tmp-<pid>`), before resuming it. */
export async function removeUnfinished(out: string): Promise<void> {
  const dir = checkpointsDir(out)
  const entries = await readdir(dir).catch(() => [] as string[])
  for (const n of entries) if (/\.(tmp|old)-\d+/.test(n)) await rm(join(dir, n), {recursive: true, force: true})
  for (const n of await readdir(out).catch(() => [] as string[])) if (UNFINISHED_IN_RUN.test(n)) await rm(join(out, n), {recursive: true, force: true})
}
