import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {mergeRuns, type MergeResult} from '../distill/merge.js'

export default class Merge extends BaseCommand {
  static override summary = 'Join distillation runs that each trained some layers into one student.'

  static override description = `Stages 1 and 2 train every layer on its own, so a large model's layers can be distilled by
separate runs (\`hybridize distill --stage 1,2 --layers 0-7\`, \`--layers 8-15\`, ... on separate machines).
This joins their students: each layer's weights come from the run that trained it, everything else
(embeddings, final norm, LM head) from the first run. Continue with stage 3 on the result.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> runs/layers-0-7 runs/layers-8-15 --out merged/',
    '<%= config.bin %> distill merged/ --teacher meta-llama/Llama-3.2-1B --data corpus/ --stage 3 --out runs/stage3',
  ]

  static override strict = false

  static override args = {
    runs: Args.string({required: true, description: 'Two or more --out folders of finished `hybridize distill` runs over disjoint --layers.'}),
  }

  static override flags = {
    out: Flags.string({char: 'o', required: true, description: 'Folder for the merged student (must not exist).'}),
  }

  async run(): Promise<MergeResult> {
    const {argv, flags} = await this.parse(Merge)
    const result = await mergeRuns(argv as string[], flags.out)
    for (const [layer, run] of Object.entries(result.layers)) this.status(`layer ${layer}: ${run}`)
    if (result.untrained.length > 0) this.status(`warning: no run trained layers ${result.untrained.join(', ')}; they keep ${argv[0]}'s weights`)
    if (!this.jsonEnabled()) this.log(result.folder)
    return result
  }
}
