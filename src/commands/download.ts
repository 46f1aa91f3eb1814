import {join} from 'node:path'
import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {download} from '../api/download.js'
import {abortOnInterrupt} from '../cli/interrupts.js'
import type {DownloadResult} from '../hub/download.js'
import {isExactName} from '../hub/select.js'

export default class Download extends BaseCommand {
  static override summary = 'Download a model from the Hugging Face hub into the shared cache.'

  static override description = `Fetches org/name[@revision] into the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub) with the layout Python's huggingface_hub writes, so each reuses the other's downloads, and prints the snapshot folder.

By default it takes the config, tokenizer and generation files and the safetensors weights (.bin or .pth only when a repo has no safetensors). File names or glob patterns after the model id take exactly those files, as \`hf download\` does; with a single file name, its path is printed. --local-dir puts real files in a folder instead, with the .cache/huggingface/ records huggingface_hub keeps there.

Interrupted or stalled downloads resume where they stopped; every file is checked against the hub's checksum before it enters the cache. Two downloads of one model at once share the work through huggingface_hub's lock files under .locks/. Where symbolic links cannot be made (or HF_HUB_DISABLE_SYMLINKS=1), snapshots hold copies.

HF_ENDPOINT selects a mirror (credentials in it are sent as basic auth and never printed), HF_TOKEN (or the file \`hf auth login\` writes) authenticates for gated models, HF_HUB_DOWNLOAD_TIMEOUT sets --timeout, and HF_HUB_OFFLINE=1 only looks in the cache.`

  static override examples = [
    '<%= config.bin %> download meta-llama/Llama-3.2-1B',
    '<%= config.bin %> download gpt2 config.json',
    '<%= config.bin %> download microsoft/phi-1_5 --revision main --exclude "*.md"',
    '<%= config.bin %> download Qwen/Qwen2.5-0.5B config.json "*.safetensors" --local-dir qwen --json',
  ]

  // File names follow the model id, any number of them.
  static override strict = false

  static override args = {
    model: Args.string({required: true, description: 'Model id on the hub: org/name or a single name (gpt2), with @revision for a branch, tag or commit.'}),
    files: Args.string({description: 'File names or glob patterns in the repo to download (any number; `dir/` means the whole folder); default: what a model needs.'}),
  }

  static override flags = {
    revision: Flags.string({description: 'Branch, tag or commit to download (default main; the same as model@revision).'}),
    include: Flags.string({multiple: true, description: 'Download only files matching this glob instead of the default selection (repeatable; `*` matches across folders).'}),
    exclude: Flags.string({multiple: true, description: 'Skip files matching this glob (repeatable).'}),
    'local-dir': Flags.string({description: 'Put real files in this folder instead of the cache, as `hf download --local-dir` does, and print it.', exclusive: ['cache-dir']}),
    force: Flags.boolean({description: 'With --local-dir, overwrite files there that neither hybridize nor huggingface_hub wrote.'}),
    token: Flags.string({description: 'Hugging Face access token; default $HF_TOKEN, then the token file of `hf auth login`.'}),
    'cache-dir': Flags.string({description: 'Hub cache folder to use instead of $HF_HUB_CACHE.'}),
    'max-workers': Flags.integer({description: 'Files downloaded at the same time.', default: 8, min: 1, max: 64}),
    timeout: Flags.string({description: 'Seconds without data before a stalled transfer is retried from where it stopped (5 retries); default $HF_HUB_DOWNLOAD_TIMEOUT, else 10.'}),
  }

  async run(): Promise<DownloadResult> {
    const {argv, flags} = await this.parse(Download)
    const [model, ...files] = argv as string[]
    const quiet = flags.quiet || this.jsonEnabled()
    if (files.length > 0 && (flags.include?.length || flags.exclude?.length)) {
      // As `hf download` does: named files win.
      this.status('warning: --include and --exclude are ignored when file names are given')
    }
    const interrupt = abortOnInterrupt()
    try {
      const result = await download({
        model,
        revision: flags.revision,
        files,
        include: flags.include,
        exclude: flags.exclude,
        localDir: flags['local-dir'],
        force: flags.force,
        token: flags.token,
        cacheDir: flags['cache-dir'],
        maxWorkers: flags['max-workers'],
        readTimeout: flags.timeout,
        signal: interrupt.signal,
        quiet,
        notify: (message) => this.status(message),
      })
      // `hf download org/name file` prints the file's path; anything else, the folder.
      const single = files.length === 1 && isExactName(files[0])
      const printed = single ? {...result, path: join(result.path, files[0])} : result
      if (!this.jsonEnabled()) this.log(printed.path)
      return printed
    } finally {
      interrupt.release()
    }
  }
}
