import {existsSync} from 'node:fs'
import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {HybridizeError} from '../errors.js'
import {exportTransformersMamba2, type ExportResult} from '../export/transformers-mamba2.js'
import {resolveModel} from '../hub/cache.js'

export default class Export extends BaseCommand {
  static override summary = 'Write a student in another library\'s checkpoint format.'

  static override description = `--format transformers-mamba2 writes a student that is a pure Mamba-2 model (no attention
heads kept, --mixer mamba2) as a transformers Mamba2ForCausalLM folder: config.json,
model.safetensors under transformers' tensor names, and the tokenizer files, which
Mamba2ForCausalLM.from_pretrained loads. transformers' Mamba-2 blocks have no MLP and one norm
epsilon, and its pure-PyTorch path normalises the gated output over all of y: a student that
differs (kept heads, another mixer, a Phi skeleton, non-zero MLPs, a grouped gated norm) is
refused with what is in the way (exit 2). The folder appears only when complete.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> runs/phi/student --format transformers-mamba2 --out mamba2-hf/',
  ]

  static override args = {
    student: Args.string({required: true, description: 'Student folder (from rewrite, distill or merge), or org/name[@revision] in the Hugging Face cache.'}),
  }

  static override flags = {
    format: Flags.string({required: true, description: 'Checkpoint format to write.', options: ['transformers-mamba2']}),
    out: Flags.string({char: 'o', required: true, description: 'Output folder (written atomically).'}),
    force: Flags.boolean({description: 'Replace --out if it exists.'}),
  }

  async run(): Promise<ExportResult> {
    const {args, flags} = await this.parse(Export)
    if (!flags.force && existsSync(flags.out)) throw new HybridizeError(`${flags.out} already exists; choose another --out, or pass --force to replace it`, {code: 'E_EXISTS'})
    const result = await exportTransformersMamba2(await resolveModel(args.student), flags.out, {overwrite: flags.force})
    this.status(`wrote ${result.files.join(', ')}`)
    if (!this.jsonEnabled()) this.log(result.out)
    return result
  }
}
