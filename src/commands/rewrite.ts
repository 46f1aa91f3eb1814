import {resolve} from 'node:path'
import {Args, Flags} from '@oclif/core'
import {rewrite} from '../api/rewrite.js'
import {BaseCommand} from '../cli/base-command.js'
import {budgetFlag} from '../cli/budget-flag.js'
import {commandLine} from '../cli/command-line.js'
import {parseBudget} from '../heads/budget.js'
import {HybridizeError} from '../errors.js'
import {MIXER_KINDS, type MixerKind} from '../models/mixers/mixer.js'
import type {HeadChoice} from '../rewrite/select-heads.js'

interface RewriteCommandResult {
  out: string
  files: string[]
  keptHeads: [number, number][]
  totalHeads: number
  mixer: MixerKind
  dState: number
  dtype: string
}

export default class Rewrite extends BaseCommand {
  static override summary = 'Turn a teacher into a hybrid: SSM mixers everywhere, attention only in the heads you keep.'

  static override description = `Reads the teacher and a heads.json from find-heads, and writes a hybrid checkpoint folder
(model_type "hybridize-hybrid"): config.json with the per-layer layout, safetensors (sharded past
--max-shard-size), the teacher's tokenizer files, provenance.json and a README.md model card.
Kept heads keep their q rows, the k/v rows of their key/value head and their o_proj columns; every
layer's SSM is born from its attention (C from Q, B from K, x from V, out_proj from O), with the
conv and the z gate starting as the identity; MLPs, norms and embeddings are copied. Without
--keep or --budget the heads heads.json selected are kept. The folder appears only when complete.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny --heads heads.json --out hybrid/',
    '<%= config.bin %> <%= command.id %> meta-llama/Llama-3.2-1B --heads heads.json --budget 2% --mixer discrete-mamba2 --d-state 16 --out llama-hybrid/',
    '<%= config.bin %> <%= command.id %> teacher/ --heads heads.json --keep 10 --mixer mamba2 --out hybrid/ --force',
  ]

  static override args = {
    teacher: Args.string({required: true, description: 'Teacher folder, or org/name[@revision] in the Hugging Face cache.'}),
  }

  static override flags = {
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

  async run(): Promise<RewriteCommandResult> {
    const {args, flags} = await this.parse(Rewrite)
    const choice: HeadChoice =
      flags.keep !== undefined ? {kind: 'keep', count: flags.keep} : flags.budget !== undefined ? {kind: 'budget', fraction: parseBudget(flags.budget)} : {kind: 'selected'}
    const mixer = flags.mixer as MixerKind
    const out = resolve(flags.out)
    const result = await rewrite({
      teacher: args.teacher,
      heads: flags.heads,
      choice,
      mixer: {kind: mixer, dState: flags['d-state'], mimoRank: flags['mimo-rank']},
      init: flags.init === 'random' ? {kind: 'random', seed: flags.seed} : {kind: 'attention'},
      out,
      force: flags.force,
      maxShardBytes: parseSize(flags['max-shard-size']),
      command: commandLine('rewrite', this.argv),
      status: (text) => this.status(text),
    })
    const share = ((100 * result.keptHeads.length) / result.totalHeads).toFixed(1)
    this.log(`${out}: ${result.keptHeads.length} of ${result.totalHeads} heads kept as attention (${share}%), ${mixer} with d_state ${result.config.mixer.stateDim}, ${result.dtype}`)
    return {out, files: result.files, keptHeads: result.keptHeads, totalHeads: result.totalHeads, mixer, dState: result.config.mixer.stateDim, dtype: result.dtype}
  }
}

const UNITS: Record<string, number> = {B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30}

function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const unit = UNITS[(m?.[2] || 'B').toUpperCase()]
  const bytes = m && unit ? Number(m[1]) * unit : Number.NaN
  if (!(bytes > 0)) throw new HybridizeError(`--max-shard-size must be a size such as 5GB or 500MB, got '${text}'`, {code: 'E_USAGE', exitCode: 2})
  return bytes
}
