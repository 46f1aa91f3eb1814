import {copyFile, mkdir, readdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {BatchStream} from '../data/batches.js'
import type {Corpus} from '../data/corpus.js'
import {parseMix} from '../data/mix.js'
import {withAtomicFolder} from '../io/atomic.js'
import {writeCheckpoint} from '../io/safetensors/writer.js'
import type {TextTokenizer} from '../tokenizer/load.js'
import {LossScaler} from '../train/loss-scaler.js'
import {FormatError} from '../errors.js'
import {saveCheckpoint, type LoadedCheckpoint, type TrainingState} from './checkpoint.js'
import {DilocoWorker} from './diloco.js'
import {runStage, trainUnits} from './loop.js'
import {appendMetrics, readMetrics, truncateMetrics, writeLossCurves, type StepMetrics} from './metrics.js'
import {stepsFor, type DistillSettings, type StageNumber} from './options.js'
import {stage1} from './stage1.js'
import {stage2} from './stage2.js'
import {stage3} from './stage3.js'
import type {DistillTeacher, StageDefinition} from './stage.js'
import type {DistillStudent} from './student.js'
import {STUDENT_DTYPE, studentCard, studentProvenance, type StudentDescription} from './student-card.js'

/**
 * A whole distillation run: the chosen stages in order over one data stream, metrics and
 * checkpoints on the way, and at the end the distilled student as a model folder `<out>/student`
 * (the input student's files with the new weights) plus loss-curve images. Stops cleanly, after
 * saving a checkpoint, when `io.stopRequested()` turns true.
 */
export const STAGES: Record<StageNumber, StageDefinition> = {1: stage1, 2: stage2, 3: stage3}

export interface DistillInputs {
  student: DistillStudent
  /** The folder the student was loaded from: its non-weight files are copied to the output. */
  studentFolder: string
  teacher: DistillTeacher
  tokenizer: TextTokenizer
  eosId: number
  corpus: Corpus
  /** What the student folder's README.md and provenance.json say about it. */
  description: Omit<StudentDescription, 'hybridProvenance'>
  /** `--devices N`: the same student and teacher loaded on each further device, data-parallel replicas of the first. */
  peers?: {student: DistillStudent; teacher: DistillTeacher}[]
}

export interface DistillIO {
  status(text: string): void
  /** After every step: its metrics and a one-line summary (loss, tokens/s, ETA). */
  progress(m: StepMetrics, line: string): void
  stopRequested(): boolean
}

export interface DistillOutcome {
  completed: boolean
  stage: StageNumber
  /** Steps done in that stage. */
  step: number
  /** The last checkpoint written, if any. */
  checkpoint?: string
  /** Per stage run: its loss at the first and at the last step. */
  losses: {stage: StageNumber; first: number; last: number}[]
  /** The student folder (when completed) and the curve images. */
  files: string[]
}

export async function distill(settings: DistillSettings, out: string, inputs: DistillInputs, io: DistillIO, resume?: LoadedCheckpoint): Promise<DistillOutcome> {
  const {student} = inputs
  const replicas = [{student, teacher: inputs.teacher}, ...(inputs.peers ?? [])]
  // New values of one weight, written into every replica.
  const apply = (name: string, data: Float32Array): void => {
    for (const r of replicas) r.student.backend.write(r.student.weights.get(name)!.storage, data)
  }
  await mkdir(out, {recursive: true})
  if (resume) {
    for (const [name, tensor] of student.weights) {
      const saved = resume.weights.get(name)
      if (!saved || saved.length !== tensor.numel) throw new Error(`checkpoint ${resume.folder} has no weight ${name} of ${tensor.numel} values`)
      apply(name, saved)
    }
    await truncateMetrics(out, resume.state.metricsLines)
  } else {
    await truncateMetrics(out, 0)
  }
  let metricsLines = resume?.state.metricsLines ?? 0
  const data = new BatchStream({
    corpus: inputs.corpus,
    tokenizer: inputs.tokenizer,
    eosId: inputs.eosId,
    seqLen: settings.seqLen,
    seed: settings.seed,
    textField: settings.textField,
    mix: parseMix(settings.mix),
    position: resume?.state.data,
  })
  const layers = settings.layers ?? [...Array(student.numLayers).keys()]
  let checkpoint: string | undefined
  let lastSaved = resume ? `${resume.state.stageIndex}:${resume.state.step}` : ''
  try {
    for (let index = resume?.state.stageIndex ?? 0; index < settings.stages.length; index++) {
      const def = STAGES[settings.stages[index]]
      const [main, ...peers] = replicas.map((r) => {
        const requested = {...r, settings, layers}
        const units = trainUnits(def, requested)
        return {units, ctx: def.perLayer ? {...requested, layers: units.map((u) => u.layer!)} : requested}
      })
      const {units, ctx} = main
      const allUnits = [main, ...peers].flatMap((r) => r.units)
      const steps = stepsFor(settings.tokens[index], settings)
      const resuming = resume && resume.state.stageIndex === index ? resume.state : undefined
      if (resuming) for (const u of allUnits) u.optimizer.importState(resuming.optimizerStep, resume!.moments)
      if (resuming && settings.diloco && !resume!.outer) throw new FormatError(`${resume!.folder}: a DiLoCo worker's checkpoint without outer.safetensors (the round's start and momentum)`)
      const diloco = settings.diloco ? await DilocoWorker.open(settings, units.flatMap((u) => u.params), apply, resuming ? resume!.outer : undefined) : undefined
      if (settings.diloco) {
        const {index: worker, workers, syncEvery, syncDir} = settings.diloco
        io.status(`DiLoCo worker ${worker} of ${workers}: an outer step every ${syncEvery} steps, through ${syncDir}`)
      }
      // A fresh scaler each stage, as each stage has fresh optimizers (MOHAWK's stages are separate trainings).
      const scaler = settings.precision === 'mixed' ? new LossScaler() : undefined
      if (scaler && resuming?.lossScale) scaler.load(resuming.lossScale)
      const firstStep = resuming?.step ?? 0
      if (firstStep < steps) io.status(`stage ${def.stage} (${def.title}): ${firstStep > 0 ? `resuming at step ${firstStep} of ` : ''}${steps} steps, ${units.reduce((n, u) => n + u.params.length, 0)} weight tensors training`)
      const save = async (step: number): Promise<void> => {
        const key = `${index}:${step}`
        if (key === lastSaved) return
        const state: TrainingState = {
          format: 'hybridize-distill-checkpoint', version: 1, stageIndex: index, stage: def.stage, step,
          optimizerStep: units[0].optimizer.stepCount, seed: settings.seed, data: data.position, metricsLines, lossScale: scaler?.state(),
        }
        const moments = units.flatMap((u) => u.optimizer.exportState().moments)
        checkpoint = await saveCheckpoint(out, {weights: student.weights, moments, state, outer: diloco?.exportState()})
        lastSaved = key
      }
      const sessionStart = Date.now()
      const done = await runStage({
        def, ctx, data, units, peers, steps, lr: settings.lr[index], firstStep, scaler,
        shard: settings.diloco && {count: settings.diloco.workers, index: settings.diloco.index},
        afterStep: async (m) => {
          // A round's last step: the outer step first, so the checkpoint after it starts the next round.
          const roundEnds = diloco?.roundEndsAt(m.step, steps) ?? false
          if (roundEnds) await diloco!.sync(m.step, io.status)
          await appendMetrics(out, m)
          metricsLines++
          io.progress(m, progressLine(m, settings.stages.length, index, firstStep, sessionStart))
          const stop = io.stopRequested()
          if (stop || roundEnds || m.step % settings.saveEvery === 0 || m.step === steps) await save(m.step)
          return stop
        },
      })
      for (const u of allUnits) u.optimizer.dispose()
      if (done < steps) {
        return {completed: false, stage: def.stage, step: done, checkpoint, losses: summarize(await readMetrics(out)), files: []}
      }
    }
  } finally {
    await data.close()
  }
  const metrics = await readMetrics(out)
  const studentDir = join(out, 'student')
  await writeStudentFolder(inputs, studentDir, settings, metrics)
  const curves = await writeLossCurves(out, metrics, {1: stage1.lossName, 2: stage2.lossName, 3: stage3.lossName})
  const last = settings.stages.at(-1)!
  return {completed: true, stage: last, step: stepsFor(settings.tokens.at(-1)!, settings), checkpoint, losses: summarize(metrics), files: [studentDir, ...curves]}
}

function summarize(metrics: StepMetrics[]): DistillOutcome['losses'] {
  const stages = [...new Set(metrics.map((m) => m.stage))]
  return stages.map((stage) => {
    const rows = metrics.filter((m) => m.stage === stage)
    return {stage, first: rows[0].loss, last: rows.at(-1)!.loss}
  })
}

function progressLine(m: StepMetrics, stageCount: number, index: number, firstStep: number, sessionStart: number): string {
  const perStep = (Date.now() - sessionStart) / 1000 / Math.max(1, m.step - firstStep)
  const eta = formatDuration((m.steps - m.step) * perStep)
  const rate = m.tokens_per_s >= 1000 ? `${(m.tokens_per_s / 1000).toFixed(1)}k` : m.tokens_per_s.toFixed(0)
  return `stage ${m.stage} [${index + 1}/${stageCount}] step ${m.step}/${m.steps} · loss ${m.loss.toPrecision(4)} · ${rate} tok/s · ETA ${eta}`
}

function formatDuration(seconds: number): string {
  const s = Math.round(seconds)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/** A JSON object, or undefined for anything else: a damaged provenance.json must not fail a finished run. */
function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/**
 * The input student's files (config, tokenizer, ...) with the trained weights, built atomically;
 * its README.md and provenance.json are replaced by ones that describe the distilled student.
 */
async function writeStudentFolder(inputs: DistillInputs, to: string, settings: DistillSettings, metrics: StepMetrics[]): Promise<void> {
  const from = inputs.studentFolder
  const hybridProvenance = await readFile(join(from, 'provenance.json'), 'utf8').then(parseObject, () => undefined)
  const description = {...inputs.description, hybridProvenance}
  await withAtomicFolder(
    to,
    async (tmp) => {
      for (const name of await readdir(from)) {
        if (/\.safetensors(\.index\.json)?$/.test(name) || name === 'README.md' || name === 'provenance.json') continue
        await copyFile(join(from, name), join(tmp, name)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EISDIR') throw err
        })
      }
      await writeCheckpoint(tmp, [...inputs.student.weights].map(([name, t]) => ({name, dtype: STUDENT_DTYPE, shape: t.shape, data: () => t.toFloat32()})))
      await writeFile(join(tmp, 'provenance.json'), JSON.stringify(studentProvenance(description, settings, metrics), null, 2) + '\n')
      await writeFile(join(tmp, 'README.md'), studentCard(description, settings, metrics))
    },
    {overwrite: true},
  )
}
