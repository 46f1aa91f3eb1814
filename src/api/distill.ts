import {stat} from 'node:fs/promises'
import {join} from 'node:path'
import {resolveCorpus} from '../data/corpus.js'
import {parseMix} from '../data/mix.js'
import {checkpointsDir, loadLastCheckpoint, removeUnfinished} from '../distill/checkpoint.js'
import {hybridStudent} from '../distill/hybrid-student.js'
import type {StepMetrics} from '../distill/metrics.js'
import {checkParallel, parseLayers, type DistillSettings, type StageNumber} from '../distill/options.js'
import {readRunSettings, writeRunSettings} from '../distill/run-file.js'
import {distill as runDistillation, type DistillOutcome} from '../distill/run.js'
import {HybridizeError} from '../errors.js'
import {resolveModel} from '../hub/cache.js'
import {identifyTeacher} from '../hub/model-identity.js'
import {HybridModel} from '../models/hybrid.js'
import {loadModel} from '../models/load-model.js'
import {loadTeacher} from '../models/load.js'
import {loadTokenizer, type TextTokenizer} from '../tokenizer/load.js'
import {withDefaults} from './defaults.js'
import type {Backend} from '../backend/backend.js'
import {withBackend, withPeerBackends, type BackendChoice} from './session.js'

/** A run's settings from code: the teacher, student and data, and any of the rest (the CLI's defaults otherwise). */
export type DistillSettingsInput = Pick<DistillSettings, 'teacher' | 'student' | 'data'> & Partial<DistillSettings>

/** `hybridize distill` from code. */
export interface DistillRequest extends BackendChoice {
  /** The run's folder: checkpoints, metrics.jsonl, curves, and student/ at the end. */
  out: string
  /** A new run's settings; not given with `resume`. */
  settings?: DistillSettingsInput
  /** Continue the run in `out` from its last checkpoint, with the settings it started with. */
  resume?: boolean
  /** After every optimizer step: its metrics and a one-line summary. */
  progress?: (m: StepMetrics, line: string) => void
  /**
   * Called once the models are loaded, just before training (the CLI installs its Ctrl-C handler
   * then); `requested()` is checked after each step: true saves a checkpoint and stops (the outcome
   * is then not `completed`); `release()` when training ends.
   */
  stop?: () => StopSignal
  /** The command line the student's model card records. */
  command?: string
}

export interface StopSignal {
  requested(): boolean
  release(): void
}

export interface DistillOutput extends DistillOutcome {
  out: string
  metrics: string
}

/** Phi-Mamba's stage learning rates (MOHAWK, arXiv 2408.10189, and goombalab/phi-mamba). */
export const DEFAULT_LR: Record<StageNumber, number> = {1: 2e-4, 2: 1e-4, 3: 1e-4}

/** `hybridize distill`'s flag defaults, but for the per-stage tokens and learning rates. */
export const DISTILL_DEFAULTS: Omit<DistillSettings, 'teacher' | 'student' | 'data' | 'tokens' | 'lr'> = {
  textField: 'text', stages: [1, 2, 3], batchSize: 8, seqLen: 256, gradAccum: 1, seed: 0, loss: 'ce',
  temperature: 1, clip: 1, weightDecay: 0.1, warmup: 0.1, decay: 0.1, saveEvery: 100, precision: 'f32',
}
/** --tokens 1M. */
export const DEFAULT_TOKENS = 1e6

/** Every setting of a run, checked: what is not given takes the CLI's default. */
export function distillSettings(input: DistillSettingsInput): DistillSettings {
  parseMix(input.mix)
  const base = withDefaults({...DISTILL_DEFAULTS, teacher: input.teacher, student: input.student, data: input.data}, input)
  const stages = base.stages
  const tokens = input.tokens ?? stages.map(() => DEFAULT_TOKENS)
  const lr = input.lr ?? stages.map((s) => DEFAULT_LR[s])
  if (tokens.length !== stages.length || lr.length !== stages.length) {
    throw new HybridizeError(`give one tokens and one lr value per stage (${stages.length})`, {code: 'E_FLAG'})
  }
  const settings = {...base, tokens, lr}
  checkParallel(settings)
  return settings
}

export async function distill(request: DistillRequest): Promise<DistillOutput> {
  const {out, status = () => {}} = request
  let settings: DistillSettings
  if (request.resume) {
    settings = await readRunSettings(out)
    status(`resuming ${out}: stages ${settings.stages.join(',')}, ${settings.data}`)
  } else {
    if (!request.settings) throw new HybridizeError('give the settings of a new run (or resume one)', {code: 'E_FLAG'})
    settings = distillSettings(request.settings)
    await refuseExistingRun(out)
  }
  const teacherFolder = await resolveModel(settings.teacher)
  const studentFolder = await resolveModel(settings.student)
  const corpus = await resolveCorpus(settings.data, settings.textField)
  return withBackend(request, async (backend) => withPeerBackends(request, settings.devices ?? 1, async (peerBackends) => {
    const load = async (on: Backend) => {
      const teacher = await loadTeacher(teacherFolder, on)
      const model = await loadModel(studentFolder, on)
      if (!(model instanceof HybridModel)) throw new HybridizeError(`${settings.student} is not a hybrid student (make one with \`hybridize rewrite\`)`, {code: 'E_STUDENT'})
      refuseStage1OfMimo(settings, model)
      return {teacher, model, student: hybridStudent(model)}
    }
    const {teacher, model, student} = await load(backend)
    const peers = []
    for (const on of peerBackends) peers.push(await load(on))
    const tokenizer = await loadTokenizer(teacherFolder)
    // The layers were read before the student's depth was known: check them now.
    if (settings.layers) parseLayers(settings.layers.join(','), student.numLayers)
    const resume = request.resume ? await loadLastCheckpoint(out) : undefined
    if (request.resume) await removeUnfinished(out)
    else await writeRunSettings(out, settings)
    const description = {config: model.config, teacher: identifyTeacher(teacherFolder), command: request.command ?? 'hybridize distill (library)'}
    const inputs = {student, studentFolder, teacher, tokenizer, eosId: eosIdOf(teacher.config.eosTokenId, tokenizer), corpus, description, peers}
    const stop = request.stop?.()
    try {
      const io = {status, progress: request.progress ?? (() => {}), stopRequested: () => stop?.requested() ?? false}
      const outcome = await runDistillation(settings, out, inputs, io, resume)
      return {...outcome, out, metrics: join(out, 'metrics.jsonl')}
    } finally {
      stop?.release()
    }
  }))
}

/**
 * Stage 1 matches each SSM head's mixing matrix with its teacher head's attention; a Mamba-3 mixer of
 * MIMO rank R has R x R of them a head (one per input and output rank), none of which is the head's.
 */
function refuseStage1OfMimo(settings: DistillSettings, model: HybridModel): void {
  const mixer = model.config.mixer
  if (!settings.stages.includes(1) || mixer.kind !== 'mamba3' || mixer.mimoRank === 1) return
  throw new HybridizeError(
    `stage 1 matches one mixing matrix a head with the teacher's attention, and ${settings.student}'s Mamba-3 mixer of MIMO rank ${mixer.mimoRank} has ${mixer.mimoRank ** 2} a head; distill it with stages 2 and 3 only`,
    {code: 'E_FLAG'},
  )
}

async function refuseExistingRun(out: string): Promise<void> {
  const last = await stat(join(checkpointsDir(out), 'last')).catch(() => undefined)
  if (last) throw new HybridizeError(`${out} already holds a distillation run; pass --resume to continue it, or choose another --out`, {code: 'E_EXISTS'})
  // A run replaces <out>/student when it ends: one that is there without a run beside it is not ours to replace.
  const student = await stat(join(out, 'student')).catch(() => undefined)
  if (student) throw new HybridizeError(`${join(out, 'student')} already exists and a run would replace it; choose another --out, or move it away`, {code: 'E_EXISTS'})
}

/** The token put between documents: config.json's eos_token_id, else the tokenizer's end-of-text token. */
function eosIdOf(configured: number | number[] | undefined, tokenizer: TextTokenizer): number {
  const id = Array.isArray(configured) ? configured[0] : configured
  if (typeof id === 'number') return id
  for (const token of ['<|endoftext|>', '</s>', '<|end_of_text|>', '<eos>']) {
    const found = tokenizer.tokenToId(token)
    if (found !== undefined) return found
  }
  throw new HybridizeError('the teacher has no end-of-text token (eos_token_id in config.json) to put between documents', {code: 'E_CONFIG'})
}
