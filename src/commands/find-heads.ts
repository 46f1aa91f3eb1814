import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {budgetFlag} from '../cli/budget-flag.js'
import {stdoutColor} from '../cli/color.js'
import {deviceFlag} from '../cli/device-flag.js'
import {findHeads, FIND_HEADS_DEFAULTS} from '../api/find-heads.js'
import {parseBudget} from '../heads/budget.js'
import {SELECTIONS, type Selection} from '../heads/find-heads.js'
import {rankedTable, terminalHeatmap} from '../heads/terminal-report.js'
import type {TaskName} from '../tasks/index.js'

export default class FindHeads extends BaseCommand {
  static override summary = 'Find the attention heads that in-context retrieval runs through.'

  static override description = `Ablates each attention head of a Transformer alone (all ablations batched into the same forward
passes), measures the drop in accuracy on a synthetic retrieval task (log-likelihood over the candidate
answers), ranks the heads by that drop and selects some (--selection). Each head is also scored from
its attention pattern: Gather (segment-final tokens attending within their own segment) and
Aggregate (the last prompt token attending to the answer segment's final token), and labelled Gather or
Aggregate when that pattern holds at least half the row's attention mass (the Gather-and-Aggregate
paper's head types; the label column, and G or A in the heatmaps). Writes heads.json (--out) and a heatmap of the drops beside it (.svg), and
checks the selection: accuracy with the selected heads ablated together, against as many random heads.
To choose the heads a hybrid keeps as attention, use --selection aggregate: ablation ranks first the
heads that feed retrieval (short look-backs, which the SSM heads learn), the Aggregate heads do the
long-range lookup that they cannot.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny',
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny --samples 100 --top-k 2 --out phi-heads.json',
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny --top-k 2 --selection aggregate --out keep.json',
    '<%= config.bin %> <%= command.id %> meta-llama/Llama-3.2-1B --budget 2% --ablation mean --json',
  ]

  static override args = {
    model: Args.string({required: true, description: 'Model folder, or org/name[@revision] in the Hugging Face cache.'}),
  }

  static override flags = {
    task: Flags.option({options: ['kv-retrieval', 'mc-retrieval', 'needle', 'arith-lookup'] as const, default: FIND_HEADS_DEFAULTS.task, description: 'Retrieval task to score heads on.'})(),
    samples: Flags.integer({description: 'Task samples (each head is ablated on all of them).', default: FIND_HEADS_DEFAULTS.samples, min: 1}),
    pairs: Flags.integer({description: 'Key-value pairs per kv-retrieval prompt.', default: FIND_HEADS_DEFAULTS.pairs, min: 1, max: 100}),
    seed: Flags.integer({description: 'Seed of the task samples and of the random comparison heads.', default: FIND_HEADS_DEFAULTS.seed}),
    'top-k': Flags.integer({description: 'Select this many heads.', min: 1, exclusive: ['budget']}),
    budget: budgetFlag({description: 'Select this share of all heads (at least one; default 2%).', exclusive: ['top-k']}),
    ablation: Flags.option({options: ['zero', 'mean'] as const, default: FIND_HEADS_DEFAULTS.ablation, description: 'Replace an ablated head\'s output by zeros, or by its mean over the prompt tokens.'})(),
    selection: Flags.string({
      description: 'individual: the top of the single-ablation ranking. greedy: add, head by head, the one whose ablation together with those chosen costs most; finds heads that stand in for one another (one more pass per selected head). aggregate: the heads whose last-token attention rests most on the answer\'s line; the ones to keep as attention when distilling (an SSM takes over the others).',
      options: [...SELECTIONS],
      default: FIND_HEADS_DEFAULTS.selection,
    }),
    'random-draws': Flags.integer({description: 'Random head sets of the selected size to ablate for comparison.', default: FIND_HEADS_DEFAULTS.randomDraws, min: 0}),
    out: Flags.string({description: 'heads.json to write (atomically); the heatmap goes beside it as .svg. A heads.json find-heads wrote is replaced; another file only with --force.', default: 'heads.json'}),
    force: Flags.boolean({description: 'Replace --out and its .svg even if they are not files find-heads wrote.'}),
    device: deviceFlag,
  }

  async run(): Promise<Record<string, unknown>> {
    const {args, flags} = await this.parse(FindHeads)
    const started = Date.now()
    const {heads, result, files} = await findHeads({
      model: args.model,
      task: flags.task as TaskName,
      samples: flags.samples,
      pairs: flags.pairs,
      seed: flags.seed,
      ablation: flags.ablation,
      select: flags['top-k'] !== undefined ? {topK: flags['top-k']} : flags.budget !== undefined ? {fraction: parseBudget(flags.budget)} : undefined,
      selection: flags.selection as Selection,
      randomDraws: flags['random-draws'],
      out: flags.out,
      force: flags.force,
      device: flags.device,
      status: (text) => this.status(text),
    })
    const draws = result.randomAblated
    const random = draws.length > 0 ? `; as many random heads ablated: ${pct(draws.reduce((a, d) => a + d.acc, 0) / draws.length)} (mean of ${draws.length})` : ''
    this.log(rankedTable(result, 10, stdoutColor))
    this.log('')
    this.log(terminalHeatmap(result, stdoutColor))
    this.log('')
    if (result.greedyCurve) {
      this.log(`greedy selection, acc with the first heads ablated: ${result.greedyCurve.map((f, i) => `${result.selected[i].join('.')} ${pct(f.acc)}`).join(', ')}`)
    }
    this.log(
      `baseline acc ${pct(result.baseline.acc)}, exact ${pct(result.baseline.exactAcc)} (chance ${pct(result.chance)}); ` +
        `${result.selected.length} selected heads ablated: ${pct(result.selectedAblated.acc)}, exact ${pct(result.selectedAblated.exactAcc)}${random}`,
    )
    this.status(`wrote ${files!.json} and ${files!.svg} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    return {...heads, files}
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`
