import {resolve} from 'node:path'
import {Flags, type Interfaces} from '@oclif/core'
import type {RewriteOptions} from '../../api/rewrite.js'
import {HybridizeError} from '../../errors.js'
import {parseBudget} from '../../heads/budget.js'
import {MIXER_KINDS, type MixerKind} from '../../models/mixers/mixer.js'
import type {RewriteResult} from '../../rewrite/rewrite.js'
import type {HeadChoice} from '../../rewrite/select-heads.js'
import {budgetFlag} from '../budget-flag.js'
import type {StepIO} from './io.js'

/** `hybridize rewrite`'s flags; a recipe's rewrite section takes the same (less heads, out, force). */
export const REWRITE_FLAGS = {
  heads: Flags.file({required: true, description: 'heads.json written by `hybridize find-heads` for this teacher.'}),
  keep: Flags.integer({description: 'Keep the first N heads: heads.json\'s selection in its order, then the rest of its ranking.', min: 0, exclusive: ['budget']}),
  budget: budgetFlag({description: 'Keep this share of all heads, taken in the same order as --keep.', exclusive: ['keep']}),
  mixer: Flags.string({description: 'SSM mixer of the student.', options: [...MIXER_KINDS], default: 'discrete-mamba2'}),
  'd-state': Flags.integer({description: 'SSM state size N (default: the teacher\'s head dim).', min: 1}),
  'mimo-rank': Flags.integer({description: 'MIMO rank R of the mamba3 mixer (1 = SISO).', min: 1}),
  init: Flags.string({
    description: 'Where the SSM mixers start. attention: C from Q, B from K, x from V, out_proj from O (the teacher\'s own mixing, which stage 1 then refines). random: random projections, as MOHAWK and mohawk\'s configs start (stage 1 then has everything to learn).',
    options: ['attention', 'random'],
    default: 'attention',
  }),
  seed: Flags.integer({description: 'Seed of the random projections (--init random).', default: 0}),
  out: Flags.string({required: true, description: 'Output folder (written atomically).'}),
  force: Flags.boolean({description: 'Replace --out if it exists.'}),
  'max-shard-size': Flags.string({description: 'Largest safetensors shard, e.g. 5GB or 500MB.', default: '5GB'}),
}

export type RewriteFlags = Interfaces.InferredFlags<typeof REWRITE_FLAGS>

export interface RewriteCommandResult {
  out: string
  files: string[]
  keptHeads: [number, number][]
  totalHeads: number
  mixer: MixerKind
  dState: number
  dtype: string
}

/** The flags as the api's options; `command`: the command line provenance.json records. */
export function rewriteOptions(teacher: string, flags: RewriteFlags, command: string, io: StepIO): RewriteOptions {
  const choice: HeadChoice =
    flags.keep !== undefined ? {kind: 'keep', count: flags.keep} : flags.budget !== undefined ? {kind: 'budget', fraction: parseBudget(flags.budget)} : {kind: 'selected'}
  return {
    teacher,
    heads: flags.heads,
    choice,
    mixer: {kind: flags.mixer as MixerKind, dState: flags['d-state'], mimoRank: flags['mimo-rank']},
    init: flags.init === 'random' ? {kind: 'random', seed: flags.seed} : {kind: 'attention'},
    out: resolve(flags.out),
    force: flags.force,
    maxShardBytes: parseSize(flags['max-shard-size']),
    command,
    status: io.status,
  }
}

/** The one summary line on stdout, and the command's --json result. */
export function reportRewrite(options: RewriteOptions, result: RewriteResult, io: StepIO): RewriteCommandResult {
  const {out} = options
  const mixer = options.mixer!.kind
  const share = ((100 * result.keptHeads.length) / result.totalHeads).toFixed(1)
  io.log(`${out}: ${result.keptHeads.length} of ${result.totalHeads} heads kept as attention (${share}%), ${mixer} with d_state ${result.config.mixer.stateDim}, ${result.dtype}`)
  return {out, files: result.files, keptHeads: result.keptHeads, totalHeads: result.totalHeads, mixer, dState: result.config.mixer.stateDim, dtype: result.dtype}
}

const UNITS: Record<string, number> = {B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30}

function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const unit = UNITS[(m?.[2] || 'B').toUpperCase()]
  const bytes = m && unit ? Number(m[1]) * unit : Number.NaN
  if (!(bytes > 0)) throw new HybridizeError(`--max-shard-size must be a size such as 5GB or 500MB, got '${text}'`, {code: 'E_USAGE', exitCode: 2})
  return bytes
}
