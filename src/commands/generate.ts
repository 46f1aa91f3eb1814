import {randomInt} from 'node:crypto'
import {Args, Flags} from '@oclif/core'
import {openModel, withBackend} from '../api/session.js'
import {BaseCommand} from '../cli/base-command.js'
import {DECODE_FLAGS} from '../cli/decode-flags.js'
import {deviceFlag} from '../cli/device-flag.js'
import {dtypeFlag, dtypeStatus} from '../cli/dtype-flag.js'
import {parseNumber} from '../cli/number-flag.js'
import {generate, type GeneratedSample} from '../generate/generate.js'
import {readGenerationDefaults} from '../generate/generation-config.js'
import {continuationText, TextStream} from '../generate/text-stream.js'
import {loadModel} from '../models/load-model.js'

interface GenerateResult {
  prompt: string
  promptTokens: number[]
  seed: number
  temperature: number
  topP: number
  samples: {text: string; tokens: number[]; finishReason: GeneratedSample['finishReason']}[]
}

export default class Generate extends BaseCommand {
  static override summary = 'Continue a prompt: KV-cache decoding for attention, recurrent decoding for SSM layers.'

  static override description = `Tokenizes --prompt with the model's tokenizer and samples a continuation, streaming it to
stdout as it is produced. --temperature 0 is greedy; otherwise tokens are drawn from softmax(logits /
temperature) cut to the --top-p nucleus. Without these flags the model's generation_config.json
decides (greedy unless it sets do_sample). --n draws several samples in one batch; each is printed
when it ends (eval --num-samples scores such samples by majority vote and coverage). A sample stops at an end-of-sequence token from
generation_config.json (or config.json), or after --max-new-tokens.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny --prompt "The value of the key"',
    '<%= config.bin %> <%= command.id %> teacher/ --prompt "Once upon a time" --temperature 0.8 --top-p 0.95 --seed 1 --max-new-tokens 100',
    '<%= config.bin %> <%= command.id %> student/ --prompt "2 + 2 =" --n 8 --temperature 1 --json',
    '<%= config.bin %> <%= command.id %> meta-llama/Llama-3.2-1B --prompt "Once upon a time" --precision mixed --kv-cache-dtype f16',
  ]

  static override args = {
    model: Args.string({required: true, description: 'Model folder, or org/name[@revision] in the Hugging Face cache.'}),
  }

  static override flags = {
    prompt: Flags.string({char: 'p', required: true, description: 'Text to continue.'}),
    'max-new-tokens': Flags.integer({description: 'Most tokens to add to each sample.', default: 64, min: 0}),
    temperature: Flags.string({description: 'Softmax temperature; 0 is greedy. [default: generation_config.json, else 0]'}),
    'top-p': Flags.string({description: 'Nucleus: sample among the most likely tokens that together reach this probability. [default: generation_config.json, else 1]'}),
    seed: Flags.integer({description: 'Seed of the sampler (random when absent; printed, so a run can be repeated).'}),
    n: Flags.integer({description: 'Samples to draw, in one batch.', default: 1, min: 1}),
    device: deviceFlag,
    dtype: dtypeFlag,
    ...DECODE_FLAGS,
  }

  async run(): Promise<GenerateResult> {
    const {args, flags} = await this.parse(Generate)
    const temperature = flags.temperature === undefined ? undefined : parseNumber('--temperature', flags.temperature, 0, Infinity)
    const topP = flags['top-p'] === undefined ? undefined : parseNumber('--top-p', flags['top-p'], Number.MIN_VALUE, 1)
    const {folder, tokenizer} = await openModel(args.model)
    const defaults = await readGenerationDefaults(folder)
    const prompt = tokenizer.encode(flags.prompt)
    if (prompt.length === 0) this.error('the prompt tokenizes to no tokens', {exit: 2})
    const seed = flags.seed ?? randomInt(2 ** 31)
    const sampling = {temperature: temperature ?? defaults.temperature, topP: topP ?? defaults.topP}
    const streamFirst = !this.jsonEnabled() && flags.n === 1
    const stream = new TextStream(tokenizer, prompt)
    return withBackend({device: flags.device, status: (text) => this.status(text)}, async (backend) => {
      this.status(`seed: ${seed}, temperature ${sampling.temperature}, top-p ${sampling.topP}, ${prompt.length} prompt tokens`)
      const model = await loadModel(folder, backend, {dtype: flags.dtype, onDType: (dtype) => this.status(dtypeStatus(dtype))})
      try {
        const samples = await generate(model, prompt, {
          ...sampling,
          maxNewTokens: flags['max-new-tokens'],
          n: flags.n,
          seed,
          precision: flags.precision,
          kvCacheDtype: flags['kv-cache-dtype'],
          eosTokenIds: defaults.eosTokenIds,
          onToken: (_, token) => {
            if (streamFirst) process.stdout.write(stream.push(token))
          },
          onDone: (i, s) => {
            if (streamFirst) process.stdout.write(`${stream.flush()}\n`)
            else if (!this.jsonEnabled()) this.log(`--- sample ${i + 1} (${s.finishReason}, ${s.tokens.length} tokens) ---\n${continuationText(tokenizer, prompt, s.tokens)}`)
          },
        })
        return {
          prompt: flags.prompt,
          promptTokens: prompt,
          seed,
          ...sampling,
          samples: samples.map((s) => ({text: continuationText(tokenizer, prompt, s.tokens), tokens: s.tokens, finishReason: s.finishReason})),
        }
      } finally {
        for (const w of model.weights.values()) w.dispose()
      }
    })
  }
}
