import {join} from 'node:path'
import {Flags, type Interfaces} from '@oclif/core'
import {DEFAULT_LR, DISTILL_DEFAULTS, type DistillOutput, type DistillRequest} from '../../api/distill.js'
import type {StepMetrics} from '../../distill/metrics.js'
import {planMemory, type StageMemory} from '../../distill/memory-plan.js'
import {parseFreeze, parseLayers, parsePerStage, parseStages, type DilocoSettings, type DistillSettings} from '../../distill/options.js'
import {readRunSettings} from '../../distill/run-file.js'
import {PRECISIONS} from '../../engine/precision.js'
import {HybridizeError} from '../../errors.js'
import {resolveModel} from '../../hub/cache.js'
import {parseTeacherConfig} from '../../models/config.js'
import {parseHybridConfig} from '../../models/hybrid-config.js'
import {readConfigJson} from '../../models/load.js'
import {deviceFlag} from '../device-flag.js'
import {devicesFlag, parseDevices} from '../devices-flag.js'
import {DILOCO_OUTER} from '../../train/outer-sgd.js'
import {catchInterrupts} from '../interrupts.js'
import {formatBytes} from '../format.js'
import type {StepIO} from './io.js'

/** The largest storage binding Dawn grants on an H100 or H200 (2 GiB less 4 bytes): what --dry-run sizes pieces and checks tensors against. */
const DRY_RUN_BINDING = 2 ** 31 - 4

export interface DistillDryRun {
  dryRun: true
  maxBindingBytes: number
  stages: StageMemory[]
}

/** `hybridize distill`'s flags; a recipe's distill section takes the same (less teacher, out, resume, device). */
export const DISTILL_FLAGS = {
  teacher: Flags.string({description: 'The teacher: a model folder or org/name[@revision] from the Hugging Face cache.'}),
  data: Flags.string({description: "Text (.txt/.md), JSONL (.jsonl, one document per line) or parquet (.parquet, one document per row) files, a folder of them (e.g. a dataset's train-*.parquet shards), or 'brown' (the bundled Brown corpus, less the 52 files eval's ppl:brown-heldout scores)."}),
  'text-field': Flags.string({description: 'The JSONL field or parquet column holding each document.', default: DISTILL_DEFAULTS.textField}),
  mix: Flags.string({description: 'Blend synthetic task samples into this fraction of the sequences, e.g. kv-retrieval:0.1; :pairs=2-16 after the fraction sets the range a sample draws its size from (default: pairs 10-50, needle haystacks 500-4000 characters; eval sweeps further). Keys come from the train half of the key vocabulary; eval asks about the other half.'}),
  stage: Flags.string({description: "1, 2, 3, an increasing list such as 2,3, or 'all'.", default: 'all'}),
  tokens: Flags.string({description: 'Training tokens per stage (one value, or one per stage; k/M/B suffixes).', default: '1M'}),
  lr: Flags.string({description: 'Peak learning rate (one value, or one per stage). Default: 2e-4 for stage 1, 1e-4 for stages 2 and 3 (Phi-Mamba).'}),
  'batch-size': Flags.integer({description: 'Sequences per micro-batch.', default: DISTILL_DEFAULTS.batchSize, min: 1}),
  'seq-len': Flags.integer({description: 'Tokens per sequence.', default: DISTILL_DEFAULTS.seqLen, min: 2}),
  'grad-accum': Flags.integer({description: 'Micro-batches per optimizer step.', default: DISTILL_DEFAULTS.gradAccum, min: 1}),
  seed: Flags.integer({description: 'Seed of the data order and the synthetic samples.', default: DISTILL_DEFAULTS.seed}),
  layers: Flags.string({description: 'Layers stages 1 and 2 train, e.g. 0-3,6 (default: all).'}),
  freeze: Flags.string({description: 'Weight groups kept frozen in stages 2 and 3: mixer, attention, mlp, norm, embedding, head (or none). Default: mlp,norm in stage 2, none in stage 3.'}),
  loss: Flags.option({options: ['ce', 'kl'] as const, description: 'Stage 3 loss: soft-target cross-entropy or KL divergence.', default: DISTILL_DEFAULTS.loss})(),
  temperature: Flags.string({description: 'Stage 3 softmax temperature T, applied to student and teacher, the loss scaled by T².', default: String(DISTILL_DEFAULTS.temperature)}),
  clip: Flags.string({description: 'Gradient-norm clipping threshold.', default: String(DISTILL_DEFAULTS.clip)}),
  'weight-decay': Flags.string({description: 'AdamW weight decay.', default: String(DISTILL_DEFAULTS.weightDecay)}),
  warmup: Flags.string({description: 'Fraction of each stage spent warming the learning rate up.', default: String(DISTILL_DEFAULTS.warmup)}),
  decay: Flags.string({description: 'Fraction of each stage spent decaying it to ~0.', default: String(DISTILL_DEFAULTS.decay)}),
  precision: Flags.option({
    options: PRECISIONS,
    description: "Linear layers' matmuls: f32, or mixed: f16 operands with f32 accumulation (tensor cores where the GPU has subgroup matrices), f32 weights and AdamW state, dynamic loss scaling as PyTorch's GradScaler (a step whose gradients overflow is skipped, logged in metrics.jsonl).",
    default: DISTILL_DEFAULTS.precision,
  })(),
  'save-every': Flags.integer({description: 'Write a checkpoint every this many optimizer steps.', default: DISTILL_DEFAULTS.saveEvery, min: 1}),
  out: Flags.string({char: 'o', required: true, description: 'Output folder: checkpoints, metrics, curves, and the distilled student.'}),
  recompute: Flags.boolean({description: "Recompute activations in the backward instead of keeping them (stage 1 per piece of its matrices, stages 2 and 3 per layer): less memory for about one more forward, as torch.utils.checkpoint."}),
  'dry-run': Flags.boolean({description: `Print the memory each stage needs and exit, loading and writing nothing: one step of each stage run on shapes alone (the tensors alive at once at the peak, weights and AdamW moments included, in f32; a GPU adds its buffer pool's slack) and the largest tensor, against a ${formatBytes(DRY_RUN_BINDING)} storage binding (Dawn's on an H100/H200).`}),
  resume: Flags.boolean({description: 'Continue the run in --out from its last checkpoint, with the settings it started with.'}),
  device: deviceFlag,
  devices: devicesFlag('stage 3 data-parallel, --batch-size rows on each, gradients summed across devices, the same optimizer step on every replica; the same losses as one device with N times the batch.'),
  workers: Flags.integer({description: 'Stage 3 across hosts by DiLoCo: the number of workers (default: $SLURM_ARRAY_TASK_COUNT). Each trains on its own rows for --sync-every steps, then all average their parameter deltas through --sync-dir.', min: 1, helpGroup: 'PARALLEL'}),
  'worker-index': Flags.integer({description: "This worker, 0 to --workers − 1 (default: $SLURM_ARRAY_TASK_ID less $SLURM_ARRAY_TASK_MIN, else Kubernetes' $JOB_COMPLETION_INDEX).", min: 0, helpGroup: 'PARALLEL'}),
  'sync-dir': Flags.string({description: "A folder every worker reads and writes (a shared filesystem): each round's parameter deltas.", helpGroup: 'PARALLEL'}),
  'sync-every': Flags.integer({description: "DiLoCo's H: inner steps between outer steps.", default: 500, min: 1, helpGroup: 'PARALLEL'}),
  'outer-lr': Flags.string({description: "DiLoCo's outer learning rate (Nesterov SGD on the mean delta).", default: String(DILOCO_OUTER.lr), helpGroup: 'PARALLEL'}),
  'outer-momentum': Flags.string({description: "DiLoCo's outer Nesterov momentum.", default: String(DILOCO_OUTER.momentum), helpGroup: 'PARALLEL'}),
}

export type DistillFlags = Interfaces.InferredFlags<typeof DISTILL_FLAGS>

/** A new run's settings from the flags. */
function distillSettingsOf(student: string | undefined, flags: DistillFlags): DistillSettings {
  if (!student) throw new HybridizeError('give the student folder (or --resume to continue a run)', {code: 'E_FLAG'})
  if (!flags.teacher) throw new HybridizeError('--teacher is required', {code: 'E_FLAG'})
  if (!flags.data) throw new HybridizeError('--data is required', {code: 'E_FLAG'})
  const stages = parseStages(flags.stage)
  return {
    teacher: flags.teacher,
    student,
    data: flags.data,
    textField: flags['text-field'],
    mix: flags.mix,
    stages,
    tokens: parsePerStage('tokens', flags.tokens, stages.length),
    lr: flags.lr === undefined ? stages.map((s) => DEFAULT_LR[s]) : parsePerStage('lr', flags.lr, stages.length, false),
    batchSize: flags['batch-size'],
    seqLen: flags['seq-len'],
    gradAccum: flags['grad-accum'],
    seed: flags.seed,
    layers: flags.layers === undefined ? undefined : parseLayers(flags.layers, Number.MAX_SAFE_INTEGER),
    freeze: parseFreeze(flags.freeze),
    loss: flags.loss,
    temperature: numberFlag('temperature', flags.temperature, 0, Infinity),
    clip: numberFlag('clip', flags.clip, 0, Infinity),
    weightDecay: numberFlag('weight-decay', flags['weight-decay'], 0, 1, true),
    warmup: numberFlag('warmup', flags.warmup, 0, 1, true),
    decay: numberFlag('decay', flags.decay, 0, 1, true),
    saveEvery: flags['save-every'],
    recompute: flags.recompute || undefined,
    precision: flags.precision,
    devices: parseDevices(flags.devices, flags.device),
    diloco: dilocoFlags(flags),
  }
}

/** A whole number from the environment, or undefined when the variable is unset or empty. */
function envInteger(name: string): number | undefined {
  const value = process.env[name]
  if (value === undefined || value.trim() === '') return undefined
  if (!/^\d+$/.test(value.trim())) throw new HybridizeError(`${name}=${value}: expected a whole number`, {code: 'E_USAGE'})
  return Number(value)
}

/** The DiLoCo flags, with the schedulers' variables as defaults; undefined for a single worker. */
function dilocoFlags(flags: DistillFlags): DilocoSettings | undefined {
  if (flags['sync-dir'] === undefined) {
    if (flags.workers !== undefined || flags['worker-index'] !== undefined) throw new HybridizeError('--workers and --worker-index need --sync-dir, the folder the workers share', {code: 'E_FLAG'})
    return undefined
  }
  const slurmTask = envInteger('SLURM_ARRAY_TASK_ID')
  const workers = flags.workers ?? envInteger('SLURM_ARRAY_TASK_COUNT')
  const index = flags['worker-index'] ?? (slurmTask !== undefined ? slurmTask - (envInteger('SLURM_ARRAY_TASK_MIN') ?? 0) : envInteger('JOB_COMPLETION_INDEX'))
  if (workers === undefined) throw new HybridizeError('--sync-dir: give --workers (or run as a Slurm array task)', {code: 'E_FLAG'})
  if (index === undefined) throw new HybridizeError('--sync-dir: give --worker-index (or run as a Slurm array task or a Kubernetes Indexed Job)', {code: 'E_FLAG'})
  return {
    workers, index, syncDir: flags['sync-dir'], syncEvery: flags['sync-every'],
    outerLr: numberFlag('outer-lr', flags['outer-lr'], 0, Infinity),
    outerMomentum: numberFlag('outer-momentum', flags['outer-momentum'], 0, 1, true),
  }
}

/**
 * The flags as the api's request: a new run's settings, or --resume; Ctrl-C (cli/interrupts.ts)
 * stops it after a step. `command`: the command line the student's model card records.
 */
export function distillRequest(student: string | undefined, flags: DistillFlags, command: string, io: StepIO): DistillRequest {
  return {
    out: flags.out,
    resume: flags.resume,
    settings: flags.resume ? undefined : distillSettingsOf(student, flags),
    device: flags.device,
    status: io.status,
    progress: distillProgress(io),
    stop: () => catchInterrupts(io.status),
    command,
  }
}

/** --dry-run: the memory plan of each stage, on stdout; nothing loaded, nothing written. */
export async function distillDryRun(student: string | undefined, flags: DistillFlags, io: StepIO): Promise<DistillDryRun> {
  const settings = flags.resume ? await readRunSettings(flags.out) : distillSettingsOf(student, flags)
  const teacherFolder = await resolveModel(settings.teacher)
  const studentFolder = await resolveModel(settings.student)
  const teacherConfig = parseTeacherConfig(await readConfigJson(teacherFolder), join(teacherFolder, 'config.json'))
  const studentConfig = parseHybridConfig(await readConfigJson(studentFolder), join(studentFolder, 'config.json'))
  if (settings.layers) parseLayers(settings.layers.join(','), studentConfig.teacher.numLayers)
  const stages = await planMemory(teacherConfig, studentConfig, settings, DRY_RUN_BINDING)
  const tokens = `${settings.batchSize} x ${settings.seqLen} tokens a micro-batch, ${settings.gradAccum} a step`
  io.log(`memory plan (${tokens}; f32 tensors alive at once):`)
  for (const p of stages) {
    const over = p.largestBytes > DRY_RUN_BINDING ? `, over the ${formatBytes(DRY_RUN_BINDING)} binding: this stage cannot run` : ''
    io.log(`stage ${p.stage}: peak ${formatBytes(p.peakBytes)} (weights ${formatBytes(p.weightsBytes)}, AdamW moments ${formatBytes(p.optimizerBytes)}), largest tensor ${formatBytes(p.largestBytes)}${over}`)
  }
  return {dryRun: true, maxBindingBytes: DRY_RUN_BINDING, stages}
}

/** The live progress line, and on a log (no terminal) one line every 10% of a stage. */
function distillProgress(io: StepIO): (m: StepMetrics, line: string) => void {
  let lastTenth = -1
  return (m, line) => {
    io.progress.update(line)
    const tenth = Math.floor((10 * m.step) / m.steps)
    if (!process.stderr.isTTY && tenth !== lastTenth) io.status(line)
    lastTenth = tenth
  }
}

/** How the run ended, on stderr; an interrupted run exits 130 (128 + SIGINT), as a shell reports it. */
export function reportDistill(outcome: DistillOutput, io: StepIO): void {
  if (outcome.completed) {
    io.progress.succeed(`distilled: ${join(outcome.out, 'student')}`)
    for (const l of outcome.losses) io.status(`stage ${l.stage}: loss ${l.first.toPrecision(4)} -> ${l.last.toPrecision(4)} (${(l.first / l.last).toFixed(1)}x lower)`)
  } else {
    io.status(`interrupted in stage ${outcome.stage} after step ${outcome.step}; checkpoint ${outcome.checkpoint}`)
    io.status(`continue with: hybridize distill --resume --out ${outcome.out}`)
    process.exitCode = 130
  }
}

/** A number flag in [min, max] (min itself allowed when `orMin`). */
function numberFlag(flag: string, value: string, min: number, max: number, orMin = false): number {
  const v = Number(value)
  if (!(value.trim() !== '' && (v > min || (orMin && v === min)) && v <= max)) {
    throw new HybridizeError(`--${flag} ${value}: expected a number ${orMin ? '>=' : '>'} ${min}${max < Infinity ? ` and <= ${max}` : ''}`, {code: 'E_FLAG'})
  }
  return v
}
