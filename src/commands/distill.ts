import {Args} from '@oclif/core'
import {distill, type DistillOutput} from '../api/distill.js'
import {BaseCommand} from '../cli/base-command.js'
import {commandLine} from '../cli/command-line.js'
import {DISTILL_FLAGS, distillDryRun, distillRequest, reportDistill, type DistillDryRun} from '../cli/steps/distill.js'

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
Ctrl-C saves a checkpoint after the current step and exits; --resume continues exactly there.

Stage 3 past one GPU: --devices N trains data-parallel on N devices of this host (the losses of one
device with N times the batch); --workers N --sync-dir DIR runs it as DiLoCo across hosts (Douillard
et al. 2023): each worker takes --sync-every inner steps on its own rows, then all average their
parameter deltas through DIR with an outer Nesterov step (--outer-lr 0.7, --outer-momentum 0.9); a
worker that dies is restarted (--resume) and redoes its round. Slurm array and Kubernetes Indexed Job
examples are in the README.`

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

  static override flags = DISTILL_FLAGS

  async run(): Promise<DistillOutput | DistillDryRun> {
    const {args, flags} = await this.parse(Distill)
    if (flags['dry-run']) return distillDryRun(args.student, flags, this.io)
    const outcome = await distill(distillRequest(args.student, flags, commandLine('distill', this.argv), this.io))
    reportDistill(outcome, this.io)
    return outcome
  }
}
