import {Args} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {formatBytes, formatCount, keyValueTable} from '../cli/format.js'
import {resolveModel} from '../hub/cache.js'
import {summarizeModel, type ModelSummary} from '../models/summary.js'

export default class Inspect extends BaseCommand {
  static override summary = 'Show a model\'s architecture, size and per-token memory.'

  static override description = `Reads config.json and the safetensors headers (no weights are loaded) and reports the
architecture, parameter count, layers, query and key/value heads, head dim, weight dtype and bytes,
and the KV-cache bytes one token costs. MODEL is a local folder or org/name[@revision] from the
Hugging Face cache.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> fixtures/llama-tiny',
    '<%= config.bin %> <%= command.id %> meta-llama/Llama-3.2-1B --json',
  ]

  static override args = {
    model: Args.string({required: true, description: 'Model folder, or org/name[@revision] in the Hugging Face cache.'}),
  }

  async run(): Promise<ModelSummary> {
    const {args} = await this.parse(Inspect)
    const summary = await summarizeModel(await resolveModel(args.model))
    this.log(keyValueTable([
      ['model', summary.folder],
      ['architecture', `${summary.architecture} (${summary.family})`],
      ['parameters', `${formatCount(summary.parameters)} (${summary.parameters})`],
      ['layers', String(summary.layers)],
      ['hidden size', String(summary.hiddenSize)],
      ['vocabulary', String(summary.vocabSize)],
      ['query heads', String(summary.queryHeads)],
      ['key/value heads', String(summary.keyValueHeads)],
      ['head dim', `${summary.headDim} (rotary ${summary.rotaryDim})`],
      ['dtype', summary.dtypes.join(', ')],
      ['weights', formatBytes(summary.weightBytes)],
      ['tied embeddings', summary.tiedEmbeddings ? 'yes' : 'no'],
      ['KV cache / token', kvLine(summary)],
    ]))
    return summary
  }
}

function kvLine(s: ModelSummary): string {
  const {checkpointDtype, f32} = s.kvCacheBytesPerToken
  const main = `${formatBytes(checkpointDtype)} at ${s.dtypes[0]}`
  return checkpointDtype === f32 ? main : `${main}, ${formatBytes(f32)} at F32 (as hybridize computes)`
}
