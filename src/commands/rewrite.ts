import {Args} from '@oclif/core'
import {rewrite} from '../api/rewrite.js'
import {BaseCommand} from '../cli/base-command.js'
import {commandLine} from '../cli/command-line.js'
import {REWRITE_FLAGS, reportRewrite, rewriteOptions, type RewriteCommandResult} from '../cli/steps/rewrite.js'

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

  static override flags = REWRITE_FLAGS

  async run(): Promise<RewriteCommandResult> {
    const {args, flags} = await this.parse(Rewrite)
    const options = rewriteOptions(args.teacher, flags, commandLine('rewrite', this.argv), this.io)
    return reportRewrite(options, await rewrite(options), this.io)
  }
}
