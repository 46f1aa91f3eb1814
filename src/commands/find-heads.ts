import {Args} from '@oclif/core'
import {findHeads} from '../api/find-heads.js'
import {BaseCommand} from '../cli/base-command.js'
import {FIND_HEADS_FLAGS, findHeadsRequest, reportFindHeads} from '../cli/steps/find-heads.js'

export default class FindHeads extends BaseCommand {
  static override summary = 'Find the heads (attention, and a hybrid\'s SSM heads) that in-context retrieval runs through.'

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
long-range lookup that they cannot.
A hybrid or SSM model folder (rewrite's or distill's output, Llamba, Phi-Mamba) works too: its SSM
heads (each of a mixer's heads, its slice of the output projection's input) are ablated and ranked
beside its attention heads, with kind "ssm" in heads.json; they have no attention pattern, so they
get no Gather/Aggregate label.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny',
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny --samples 100 --top-k 2 --out phi-heads.json',
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny --top-k 2 --selection aggregate --out keep.json',
    '<%= config.bin %> <%= command.id %> meta-llama/Llama-3.2-1B --budget 2% --ablation mean --json',
    '<%= config.bin %> <%= command.id %> hybrid/ --top-k 4 --out hybrid-heads.json',
  ]

  static override args = {
    model: Args.string({required: true, description: 'Model folder, or org/name[@revision] in the Hugging Face cache.'}),
  }

  static override flags = FIND_HEADS_FLAGS

  async run(): Promise<Record<string, unknown>> {
    const {args, flags} = await this.parse(FindHeads)
    const started = Date.now()
    const output = await findHeads(findHeadsRequest(args.model, flags, this.io))
    reportFindHeads(output, this.io, started)
    return {...output.heads, files: output.files}
  }
}
