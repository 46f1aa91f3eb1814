import {stat} from 'node:fs/promises'
import {join} from 'node:path'
import {Args, Flags} from '@oclif/core'
import {BaseCommand, type BaseFlags} from '../cli/base-command.js'
import {commandLine} from '../cli/command-line.js'
import {deviceFlag} from '../cli/device-flag.js'
import {createBackend} from '../backend/device.js'
import {resolveCorpus} from '../data/corpus.js'
import {parseMix} from '../data/mix.js'
import {checkpointsDir, loadLastCheckpoint, removeUnfinished} from '../distill/checkpoint.js'
import {hybridStudent} from '../distill/hybrid-student.js'
import {parseFreeze, parseLayers, parsePerStage, parseStages, type DistillSettings, type StageNumber} from '../distill/options.js'
import {readRunSettings, writeRunSettings} from '../distill/run-file.js'
import type {StepMetrics} from '../distill/metrics.js'
import {distill, type DistillOutcome} from '../distill/run.js'
import {HybridizeError} from '../errors.js'
import {resolveModel} from '../hub/cache.js'
import {HybridModel} from '../models/hybrid.js'
import {loadModel} from '../models/load-model.js'
import {loadTeacher} from '../models/load.js'
import {identifyTeacher} from '../rewrite/teacher-identity.js'
import {loadTokenizer, type TextTokenizer} from '../tokenizer/load.js'

interface DistillResult extends DistillOutcome {
  out: string
  metrics: string
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

Writes into --out: checkpoints/ (every --save-every steps and at the end of each stage; \`last\`
names the newest), metrics.jsonl, loss-stage<S>.svg, and student/ (the distilled model).
Ctrl-C saves a checkpoint after the current step and exits; --resume continues exactly there.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> hybrid/ --teacher fixtures/phi-tiny --data brown --mix kv-retrieval:0.1 --tokens 2M --out runs/phi',
    '<%= config.bin %> <%= command.id %> hybrid/ --teacher meta-llama/Llama-3.2-1B --data corpus/ --stage 1 --layers 0-3 --out runs/layers-0-3',
    '<%= config.bin %> <%= command.id %> --resume --out runs/phi',
  ]

  static override args = {
    student: Args.string({description: 'The hybrid student (a folder from `hybridize rewrite`); not needed with --resume.'}),
  }

  static override flags = {
    teacher: Flags.string({description: 'The teacher: a model folder or org/name[@revision] from the Hugging Face cache.'}),
    data: Flags.string({description: "Text (.txt/.md), JSONL (.jsonl, one document per line) files, a folder of them, or 'brown' (the bundled Brown corpus, less the 52 files eval's ppl:brown-heldout scores)."}),
    'text-field': Flags.string({description: 'The JSONL field holding each document.', default: 'text'}),
    mix: Flags.string({description: 'Blend synthetic task samples into this fraction of the sequences, e.g. kv-retrieval:0.1; :pairs=2-16 after the fraction sets the range a sample draws its size from (default: pairs 10-50, needle haystacks 500-4000 characters; eval sweeps further). Keys come from the train half of the key vocabulary; eval asks about the other half.'}),
    stage: Flags.string({description: "1, 2, 3, an increasing list such as 2,3, or 'all'.", default: 'all'}),
    tokens: Flags.string({description: 'Training tokens per stage (one value, or one per stage; k/M/B suffixes).', default: '1M'}),
    lr: Flags.string({description: 'Peak learning rate (one value, or one per stage). Default: 2e-4 for stage 1, 1e-4 for stages 2 and 3 (Phi-Mamba).'}),
    'batch-size': Flags.integer({description: 'Sequences per micro-batch.', default: 8, min: 1}),
    'seq-len': Flags.integer({description: 'Tokens per sequence.', default: 256, min: 2}),
    'grad-accum': Flags.integer({description: 'Micro-batches per optimizer step.', default: 1, min: 1}),
    seed: Flags.integer({description: 'Seed of the data order and the synthetic samples.', default: 0}),
    layers: Flags.string({description: 'Layers stages 1 and 2 train, e.g. 0-3,6 (default: all).'}),
    freeze: Flags.string({description: 'Weight groups kept frozen in stages 2 and 3: mixer, attention, mlp, norm, embedding, head (or none). Default: mlp,norm in stage 2, none in stage 3.'}),
    loss: Flags.option({options: ['ce', 'kl'] as const, description: 'Stage 3 loss: soft-target cross-entropy or KL divergence.', default: 'ce'})(),
    temperature: Flags.string({description: 'Stage 3 softmax temperature T, applied to student and teacher, the loss scaled by T².', default: '1'}),
    clip: Flags.string({description: 'Gradient-norm clipping threshold.', default: '1'}),
    'weight-decay': Flags.string({description: 'AdamW weight decay.', default: '0.1'}),
    warmup: Flags.string({description: 'Fraction of each stage spent warming the learning rate up.', default: '0.1'}),
    decay: Flags.string({description: 'Fraction of each stage spent decaying it to ~0.', default: '0.1'}),
    'save-every': Flags.integer({description: 'Write a checkpoint every this many optimizer steps.', default: 100, min: 1}),
    out: Flags.string({char: 'o', required: true, description: 'Output folder: checkpoints, metrics, curves, and the distilled student.'}),
    resume: Flags.boolean({description: 'Continue the run in --out from its last checkpoint, with the settings it started with.'}),
    device: deviceFlag,
  }

  async run(): Promise<DistillResult> {
    const {args, flags} = await this.parse(Distill)
    const out = flags.out
    const settings = flags.resume ? await readRunSettings(out) : await this.freshSettings(args.student, flags)
    if (flags.resume) this.status(`resuming ${out}: stages ${settings.stages.join(',')}, ${settings.data}`)
    else await refuseExistingRun(out)
    const teacherFolder = await resolveModel(settings.teacher)
    const studentFolder = await resolveModel(settings.student)
    const corpus = await resolveCorpus(settings.data)
    const backend = await createBackend(flags.device)
    this.status(`device: ${backend.description}`)
    try {
      const teacher = await loadTeacher(teacherFolder, backend)
      const model = await loadModel(studentFolder, backend)
      if (!(model instanceof HybridModel)) throw new HybridizeError(`${settings.student} is not a hybrid student (make one with \`hybridize rewrite\`)`, {code: 'E_STUDENT'})
      const tokenizer = await loadTokenizer(teacherFolder)
      const student = hybridStudent(model)
      // --layers was read before the student's depth was known: check it now.
      if (settings.layers) parseLayers(settings.layers.join(','), student.numLayers)
      const resume = flags.resume ? await loadLastCheckpoint(out) : undefined
      if (flags.resume) await removeUnfinished(out)
      else await writeRunSettings(out, settings)
      const stop = this.catchInterrupts()
      let outcome: DistillOutcome
      try {
        const description = {config: model.config, teacher: identifyTeacher(teacherFolder), command: commandLine('distill', this.argv)}
        const inputs = {student, studentFolder, teacher, tokenizer, eosId: eosIdOf(teacher.config.eosTokenId, tokenizer), corpus, description}
        outcome = await distill(settings, out, inputs, {status: (t) => this.status(t), progress: this.progressReporter(), stopRequested: stop.requested}, resume)
      } finally {
        stop.release()
      }
      if (outcome.completed) {
        this.progress.succeed(`distilled: ${join(out, 'student')}`)
        for (const l of outcome.losses) this.status(`stage ${l.stage}: loss ${l.first.toPrecision(4)} -> ${l.last.toPrecision(4)} (${(l.first / l.last).toFixed(1)}x lower)`)
      } else {
        this.status(`interrupted in stage ${outcome.stage} after step ${outcome.step}; checkpoint ${outcome.checkpoint}`)
        this.status(`continue with: hybridize distill --resume --out ${out}`)
        process.exitCode = 130
      }
      return {...outcome, out, metrics: join(out, 'metrics.jsonl')}
    } finally {
      backend.destroy()
    }
  }

  private async freshSettings(student: string | undefined, flags: BaseFlags<typeof Distill>): Promise<DistillSettings> {
    if (!student) throw new HybridizeError('give the student folder (or --resume to continue a run)', {code: 'E_FLAG'})
    if (!flags.teacher) throw new HybridizeError('--teacher is required', {code: 'E_FLAG'})
    if (!flags.data) throw new HybridizeError('--data is required', {code: 'E_FLAG'})
    parseMix(flags.mix)
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
    }
  }

  /** First Ctrl-C: finish the step, save, stop. Second: quit at once (the last complete checkpoint stays). */
  private catchInterrupts(): {requested: () => boolean; release: () => void} {
    let requested = false
    const onSigint = (): void => {
      if (requested) {
        process.stderr.write('\nhybridize: second Ctrl-C: quitting without saving; the last complete checkpoint is kept\n')
        process.exit(130)
      }
      requested = true
      this.status('\nCtrl-C: saving a checkpoint after this step, then stopping (Ctrl-C again to quit at once)')
    }
    process.on('SIGINT', onSigint)
    return {requested: () => requested, release: () => process.off('SIGINT', onSigint)}
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

/** Phi-Mamba's stage learning rates (MOHAWK, arXiv 2408.10189, and goombalab/phi-mamba). */
const DEFAULT_LR: Record<StageNumber, number> = {1: 2e-4, 2: 1e-4, 3: 1e-4}

/** A number flag in [min, max] (min itself allowed when `orMin`). */
function numberFlag(flag: string, value: string, min: number, max: number, orMin = false): number {
  const v = Number(value)
  if (!(value.trim() !== '' && (v > min || (orMin && v === min)) && v <= max)) {
    throw new HybridizeError(`--${flag} ${value}: expected a number ${orMin ? '>=' : '>'} ${min}${max < Infinity ? ` and <= ${max}` : ''}`, {code: 'E_FLAG'})
  }
  return v
}

async function refuseExistingRun(out: string): Promise<void> {
  const last = await stat(join(checkpointsDir(out), 'last')).catch(() => undefined)
  if (last) throw new HybridizeError(`${out} already holds a distillation run; pass --resume to continue it, or choose another --out`, {code: 'E_EXISTS'})
  // A run replaces <out>/student when it ends: one that is there without a run beside it is not ours to replace.
  const student = await stat(join(out, 'student')).catch(() => undefined)
  if (student) throw new HybridizeError(`${join(out, 'student')} already exists and a run would replace it; choose another --out, or move it away`, {code: 'E_EXISTS'})
}

function eosIdOf(configured: number | number[] | undefined, tokenizer: TextTokenizer): number {
  const id = Array.isArray(configured) ? configured[0] : configured
  if (typeof id === 'number') return id
  for (const token of ['<|endoftext|>', '</s>', '<|end_of_text|>', '<eos>']) {
    const found = tokenizer.tokenToId(token)
    if (found !== undefined) return found
  }
  throw new HybridizeError('the teacher has no end-of-text token (eos_token_id in config.json) to put between documents', {code: 'E_CONFIG'})
}
