import {join} from 'node:path'
import {Args, Flags} from '@oclif/core'
import {DEFAULT_LR, DISTILL_DEFAULTS, distill, type DistillOutput} from '../api/distill.js'
import {BaseCommand, type BaseFlags} from '../cli/base-command.js'
import {commandLine} from '../cli/command-line.js'
import {deviceFlag} from '../cli/device-flag.js'
import {catchInterrupts} from '../cli/interrupts.js'
import type {StepMetrics} from '../distill/metrics.js'
import {parseFreeze, parseLayers, parsePerStage, parseStages, type DilocoSettings, type DistillSettings} from '../distill/options.js'
import {devicesFlag, parseDevices} from '../cli/devices-flag.js'
import {DILOCO_OUTER} from '../train/outer-sgd.js'
import {formatBytes} from '../cli/format.js'
import {planMemory, type StageMemory} from '../distill/memory-plan.js'
import {readRunSettings} from '../distill/run-file.js'
import {PRECISIONS} from '../engine/precision.js'
import {resolveModel} from '../hub/cache.js'
import {parseTeacherConfig} from '../models/config.js'
import {parseHybridConfig} from '../models/hybrid-config.js'
import {readConfigJson} from '../models/load.js'
import {HybridizeError} from '../errors.js'

/** The largest storage binding Dawn grants on an H100 or H200 (2 GiB less 4 bytes): what --dry-run sizes pieces and checks tensors against. */
const DRY_RUN_BINDING = 2 ** 31 - 4

interface DryRunResult {
  dryRun: true
  maxBindingBytes: number
  stages: StageMemory[]
}

export default class Distill extends BaseCommand {
  static override summary = 'Distil a teacher into a hybrid student with the three MOHAWK stages.'

  static override description = `Stage 1 (matrix orientation): each student layer, fed the teacher's hidden state entering it,
matches its SSM mixing matrix to the teacher's attention probabilities (Frobenius norm, mean over
batch and heads); only the mixers train.

Stage 2 (hidden-state alignment): each student block's output against the teacher's next hidden
state (L2 per token); MLPs and norms stay frozen unless --freeze says otherwise, as in
goombalab/phi-mamba's assets/mohawk_stage2.py (freeze_mlp = True: only the mixer trains). That
script compares the mixer's output with the attention's; comparing the block's output is the same
for a parallel (Phi) block, whose frozen MLP sees the teacher's input either way, but for a
sequential (Llama) block the error also passes through the MLP.

Stage 3 (end-to-end): T² times the soft-target cross-entropy (or KL, --loss kl) of
softmax(student/T) against softmax(teacher/T), T = --temperature; every weight outside the --freeze
groups trains. At the default T = 1 this is jxiw/MambaInLlama's loss (trainer/kd_trainer.py:
kl_div(log_softmax(student), softmax(teacher)), no temperature; phi-mamba ships no stage 3 code).
Softening both sides and the T² factor, which keeps the gradient's size as T changes, are
transformers' examples/research_projects/distillation/distiller.py (Hinton et al. 2015).

Stages 1 and 2 train each layer on its own (its own optimizer and clipping), so --layers 0-3 runs a
subset, and separate runs over disjoint layers joined by \`hybridize merge\` equal one run over all.

AdamW (betas 0.9/0.95, weight decay --weight-decay except on D, A_log, dt_bias, norms and biases),
a warmup-stable-decay schedule, gradient clipping and accumulation. --tokens, --lr: one value for
every stage or one per stage (e.g. --tokens 80M,160M,2.76B).

Stage 3 past one GPU: --devices N trains data-parallel on N devices of this host (the losses of one
device with N times the batch); --workers N --sync-dir DIR runs it as DiLoCo across hosts (Douillard
et al. 2023): each worker takes --sync-every inner steps on its own rows, then all average their
parameter deltas through DIR with an outer Nesterov step (--outer-lr 0.7, --outer-momentum 0.9); a
worker that dies is restarted (--resume) and redoes its round. Slurm array and Kubernetes Indexed Job
examples are in the README.

Writes into --out: checkpoints/ (every --save-every steps and at the end of each stage; \`last\`
names the newest), metrics.jsonl, loss-stage<S>.svg, and student/ (the distilled model).
Ctrl-C saves a checkpoint after the current step and exits; --resume continues exactly there.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> hybrid/ --teacher fixtures/phi-tiny --data brown --mix kv-retrieval:0.1 --tokens 2M --out runs/phi',
    '<%= config.bin %> <%= command.id %> hybrid/ --teacher meta-llama/Llama-3.2-1B --data corpus/ --stage 1 --layers 0-3 --out runs/layers-0-3',
    '<%= config.bin %> <%= command.id %> --resume --out runs/phi',
    '<%= config.bin %> <%= command.id %> merged/ --teacher meta-llama/Llama-3.2-1B --data corpus/ --stage 3 --devices all --out runs/stage3',
    '<%= config.bin %> <%= command.id %> merged/ --teacher meta-llama/Llama-3.2-1B --data corpus/ --stage 3 --workers 8 --worker-index 0 --sync-dir /shared/sync --sync-every 500 --out runs/worker-0',
  ]

  static override args = {
    student: Args.string({description: 'The hybrid student (a folder from `hybridize rewrite`); not needed with --resume.'}),
  }

  static override flags = {
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

  async run(): Promise<DistillOutput | DryRunResult> {
    const {args, flags} = await this.parse(Distill)
    const out = flags.out
    if (flags['dry-run']) return this.dryRun(flags.resume ? await readRunSettings(out) : this.freshSettings(args.student, flags))
    const outcome = await distill({
      out,
      resume: flags.resume,
      settings: flags.resume ? undefined : this.freshSettings(args.student, flags),
      device: flags.device,
      status: (text) => this.status(text),
      progress: this.progressReporter(),
      stop: () => catchInterrupts((text) => this.status(text)),
      command: commandLine('distill', this.argv),
    })
    if (outcome.completed) {
      this.progress.succeed(`distilled: ${join(out, 'student')}`)
      for (const l of outcome.losses) this.status(`stage ${l.stage}: loss ${l.first.toPrecision(4)} -> ${l.last.toPrecision(4)} (${(l.first / l.last).toFixed(1)}x lower)`)
    } else {
      this.status(`interrupted in stage ${outcome.stage} after step ${outcome.step}; checkpoint ${outcome.checkpoint}`)
      this.status(`continue with: hybridize distill --resume --out ${out}`)
      process.exitCode = 130
    }
    return outcome
  }

  /** --dry-run: the memory plan of each stage, on stdout; nothing loaded, nothing written. */
  private async dryRun(settings: DistillSettings): Promise<DryRunResult> {
    const teacherFolder = await resolveModel(settings.teacher)
    const studentFolder = await resolveModel(settings.student)
    const teacher = parseTeacherConfig(await readConfigJson(teacherFolder), join(teacherFolder, 'config.json'))
    const student = parseHybridConfig(await readConfigJson(studentFolder), join(studentFolder, 'config.json'))
    if (settings.layers) parseLayers(settings.layers.join(','), student.teacher.numLayers)
    const stages = await planMemory(teacher, student, settings, DRY_RUN_BINDING)
    const tokens = `${settings.batchSize} x ${settings.seqLen} tokens a micro-batch, ${settings.gradAccum} a step`
    this.log(`memory plan (${tokens}; f32 tensors alive at once):`)
    for (const p of stages) {
      const over = p.largestBytes > DRY_RUN_BINDING ? `, over the ${formatBytes(DRY_RUN_BINDING)} binding: this stage cannot run` : ''
      this.log(`stage ${p.stage}: peak ${formatBytes(p.peakBytes)} (weights ${formatBytes(p.weightsBytes)}, AdamW moments ${formatBytes(p.optimizerBytes)}), largest tensor ${formatBytes(p.largestBytes)}${over}`)
    }
    return {dryRun: true, maxBindingBytes: DRY_RUN_BINDING, stages}
  }

  private freshSettings(student: string | undefined, flags: BaseFlags<typeof Distill>): DistillSettings {
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

  /** The live progress line, and on a log (no terminal) one line every 10% of a stage. */
  private progressReporter(): (m: StepMetrics, line: string) => void {
    let lastTenth = -1
    return (m, line) => {
      this.progress.update(line)
      const tenth = Math.floor((10 * m.step) / m.steps)
      if (!process.stderr.isTTY && tenth !== lastTenth) this.status(line)
      lastTenth = tenth
    }
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
function dilocoFlags(flags: BaseFlags<typeof Distill>): DilocoSettings | undefined {
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

/** A number flag in [min, max] (min itself allowed when `orMin`). */
function numberFlag(flag: string, value: string, min: number, max: number, orMin = false): number {
  const v = Number(value)
  if (!(value.trim() !== '' && (v > min || (orMin && v === min)) && v <= max)) {
    throw new HybridizeError(`--${flag} ${value}: expected a number ${orMin ? '>=' : '>'} ${min}${max < Infinity ? ` and <= ${max}` : ''}`, {code: 'E_FLAG'})
  }
  return v
}
