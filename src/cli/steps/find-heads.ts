import {Flags, type Interfaces} from '@oclif/core'
import {FIND_HEADS_DEFAULTS, type FindHeadsOutput, type FindHeadsRequest} from '../../api/find-heads.js'
import {PRECISIONS} from '../../engine/precision.js'
import {parseBudget} from '../../heads/budget.js'
import {SELECTIONS, type Selection} from '../../heads/find-heads.js'
import {headName} from '../../heads/head-layout.js'
import {rankedTable, terminalHeatmap} from '../../heads/terminal-report.js'
import type {TaskName} from '../../tasks/index.js'
import {budgetFlag} from '../budget-flag.js'
import {stdoutColor} from '../color.js'
import {deviceFlag} from '../device-flag.js'
import {devicesFlag, parseDevices} from '../devices-flag.js'
import type {StepIO} from './io.js'

/** `hybridize find-heads`'s flags; a recipe's find_heads section takes the same (less out, device, force). */
export const FIND_HEADS_FLAGS = {
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
  precision: Flags.option({
    options: PRECISIONS,
    default: FIND_HEADS_DEFAULTS.precision,
    description: "Linear layers' matmuls in every ablated forward: f32, or mixed: f16-rounded operands with f32 sums, as `forward --precision mixed` runs them (tensor cores where the GPU has subgroup matrices; f32 weights are rounded as they are used). Rankings can differ where two heads' drops are within f16's rounding.",
  })(),
  'random-draws': Flags.integer({description: 'Random head sets of the selected size to ablate for comparison.', default: FIND_HEADS_DEFAULTS.randomDraws, min: 0}),
  out: Flags.string({description: 'heads.json to write (atomically); the heatmap goes beside it as .svg. A heads.json find-heads wrote is replaced; another file only with --force.', default: 'heads.json'}),
  force: Flags.boolean({description: 'Replace --out and its .svg even if they are not files find-heads wrote.'}),
  device: deviceFlag,
  devices: devicesFlag('the head ablations are shared among them, the same results as on one.'),
}

export type FindHeadsFlags = Interfaces.InferredFlags<typeof FIND_HEADS_FLAGS>

/** The flags as the api's request. */
export function findHeadsRequest(model: string, flags: FindHeadsFlags, io: StepIO): FindHeadsRequest {
  return {
    model,
    task: flags.task as TaskName,
    samples: flags.samples,
    pairs: flags.pairs,
    seed: flags.seed,
    ablation: flags.ablation,
    select: flags['top-k'] !== undefined ? {topK: flags['top-k']} : flags.budget !== undefined ? {fraction: parseBudget(flags.budget)} : undefined,
    selection: flags.selection as Selection,
    randomDraws: flags['random-draws'],
    precision: flags.precision,
    out: flags.out,
    force: flags.force,
    device: flags.device,
    devices: parseDevices(flags.devices, flags.device),
    status: io.status,
  }
}

/** The ranking, the heatmap and the selection's check on stdout; the files written on stderr. `started`: Date.now() at the start. */
export function reportFindHeads({result, files}: FindHeadsOutput, io: StepIO, started: number): void {
  const draws = result.randomAblated
  const random = draws.length > 0 ? `; as many random heads ablated: ${pct(draws.reduce((a, d) => a + d.acc, 0) / draws.length)} (mean of ${draws.length})` : ''
  io.log(rankedTable(result, 10, stdoutColor))
  io.log('')
  io.log(terminalHeatmap(result, stdoutColor))
  io.log('')
  if (result.greedyCurve) {
    io.log(`greedy selection, acc with the first heads ablated: ${result.greedyCurve.map((f, i) => `${headName(result.selected[i])} ${pct(f.acc)}`).join(', ')}`)
  }
  io.log(
    `baseline acc ${pct(result.baseline.acc)}, exact ${pct(result.baseline.exactAcc)} (chance ${pct(result.chance)}); ` +
      `${result.selected.length} selected heads ablated: ${pct(result.selectedAblated.acc)}, exact ${pct(result.selectedAblated.exactAcc)}${random}`,
  )
  const pass = result.ablationPass
  const rate = pass.seconds > 0 ? ` (${Math.round(pass.tokens / pass.seconds)} tokens/s)` : ''
  io.status(`ablation pass: ${pass.rows} forward rows, ${pass.tokens} tokens in ${pass.seconds.toFixed(1)} s${rate}`)
  if (files) io.status(`wrote ${files.json} and ${files.svg} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`
