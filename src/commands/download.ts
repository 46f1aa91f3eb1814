import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {downloadSnapshot, type DownloadResult} from '../hub/download.js'
import {requireRepoRef} from '../hub/repo-ref.js'

export default class Download extends BaseCommand {
  static override summary = 'Download a model from the Hugging Face hub into the shared cache.'

  static override description = `Fetches org/name[@revision] into the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub) with the layout Python's huggingface_hub writes, so each reuses the other's downloads, and prints the snapshot folder.

By default it takes the config, tokenizer and generation files and the safetensors weights (.bin or .pth only when a repo has no safetensors). Interrupted downloads resume where they stopped; every file is checked against the hub's checksum before it enters the cache.

HF_ENDPOINT selects a mirror, HF_TOKEN (or the file \`hf auth login\` writes) authenticates for gated models, and HF_HUB_OFFLINE=1 only looks in the cache.`

  static override examples = [
    '<%= config.bin %> download meta-llama/Llama-3.2-1B',
    '<%= config.bin %> download microsoft/phi-1_5@main --exclude "*.md"',
    '<%= config.bin %> download Qwen/Qwen2.5-0.5B --include "*.json" --include "*.safetensors" --json',
  ]

  static override args = {
    model: Args.string({required: true, description: 'Model id on the hub: org/name or a single name (gpt2), with @revision for a branch, tag or commit.'}),
  }

  static override flags = {
    include: Flags.string({multiple: true, description: 'Download only files matching this glob instead of the default selection (repeatable; `*` matches across folders).'}),
    exclude: Flags.string({multiple: true, description: 'Skip files matching this glob (repeatable).'}),
    token: Flags.string({description: 'Hugging Face access token; default $HF_TOKEN, then the token file of `hf auth login`.'}),
    'cache-dir': Flags.string({description: 'Hub cache folder to use instead of $HF_HUB_CACHE.'}),
    'max-workers': Flags.integer({description: 'Files downloaded at the same time.', default: 8, min: 1, max: 64}),
    timeout: Flags.string({description: 'Seconds without data before a stalled transfer is retried from where it stopped (5 retries); default $HF_HUB_DOWNLOAD_TIMEOUT, else 10.'}),
  }

  async run(): Promise<DownloadResult> {
    const {args, flags} = await this.parse(Download)
    const ref = requireRepoRef(args.model)
    const quiet = flags.quiet || this.jsonEnabled()
    const interrupt = new AbortController()
    const onSigint = () => interrupt.abort()
    process.once('SIGINT', onSigint)
    try {
      const result = await downloadSnapshot({
        ...ref,
        include: flags.include,
        exclude: flags.exclude,
        token: flags.token,
        cacheDir: flags['cache-dir'],
        maxWorkers: flags['max-workers'],
        readTimeout: flags.timeout,
        signal: interrupt.signal,
        quiet,
      })
      if (!this.jsonEnabled()) this.log(result.path)
      return result
    } finally {
      process.off('SIGINT', onSigint)
    }
  }
}
