import {Args, Flags} from '@oclif/core'
import {withBackend} from '../api/session.js'
import {BaseCommand} from '../cli/base-command.js'
import {deviceFlag} from '../cli/device-flag.js'
import {dtypeFlag, dtypeStatus} from '../cli/dtype-flag.js'
import type {Backend} from '../backend/backend.js'
import {PRECISIONS, type Precision} from '../engine/precision.js'
import {ShapeError} from '../errors.js'
import {resolveModel} from '../hub/cache.js'
import {SafetensorsFile} from '../io/safetensors/reader.js'
import {writeSafetensors, type TensorToWrite} from '../io/safetensors/writer.js'
import {loadModel, type LoadedModel} from '../models/load-model.js'
import {forwardIds, topTokens} from '../models/run-forward.js'
import {loadTokenizer, type TextTokenizer} from '../tokenizer/load.js'

interface ForwardFileResult {
  output: string
  logits: number[]
  hiddenStates: number
}

interface ForwardTextResult {
  tokens: number[]
  next: {id: number; token: string; prob: number; logit: number}[]
}

export default class Forward extends BaseCommand {
  static override summary = 'Run a model forward: logits and hidden states, or the next tokens of a text.'

  static override description = `With --input, reads input_ids ([batch, seq], int32 or int64) from a safetensors file and
writes logits [batch, seq, vocab] and hidden_states.i (the input of decoder layer i; the last one after
the final norm) to --output, named as transformers' output_hidden_states would be (for Mamba-2
checkpoints, as transformers does for them, hidden_states.i is the output of layer i). MODEL may be a
teacher (Llama, Phi), a Mamba-2 checkpoint or a hybrid written by \`hybridize rewrite\`. With --text,
tokenizes the text with the model's tokenizer and prints the most likely next tokens.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny --text "The value of the key"',
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny --input ids.safetensors --output out.safetensors',
    '<%= config.bin %> <%= command.id %> meta-llama/Llama-3.2-1B --text "Paris is the capital of" --top 10 --json',
    '<%= config.bin %> <%= command.id %> meta-llama/Llama-3.1-8B --dtype bf16 --input ids.safetensors --output out.safetensors',
    '<%= config.bin %> <%= command.id %> meta-llama/Llama-3.2-1B --precision mixed --input ids.safetensors --output out.safetensors',
  ]

  static override args = {
    model: Args.string({required: true, description: 'Model folder, or org/name[@revision] in the Hugging Face cache.'}),
  }

  static override flags = {
    input: Flags.file({description: 'safetensors file holding input_ids [batch, seq].', exclusive: ['text'], dependsOn: ['output']}),
    output: Flags.string({description: 'safetensors file to write logits and hidden_states.i to (written atomically).'}),
    text: Flags.string({description: 'Text to tokenize; prints the most likely next tokens.', exclusive: ['input']}),
    top: Flags.integer({description: 'How many next tokens to print with --text.', default: 10, min: 1}),
    device: deviceFlag,
    dtype: dtypeFlag,
    precision: Flags.option({
      options: PRECISIONS,
      default: 'f32' as Precision,
      description: "Linear layers' matmuls: f32, or mixed: f16-rounded operands with f32 sums, as `distill --precision mixed` trains (torch.autocast's float16; tensor cores where the GPU has subgroup matrices). Mixed rounds f32 weights itself: with --dtype auto they load as f32; --dtype bf16|f16 is refused.",
      helpGroup: 'COMPUTE',
    })(),
  }

  async run(): Promise<ForwardFileResult | ForwardTextResult> {
    const {args, flags} = await this.parse(Forward)
    if (!flags.input && flags.text === undefined) this.error('give --input FILE --output FILE, or --text "..."', {exit: 2})
    if (flags.precision === 'mixed' && flags.dtype !== 'auto' && flags.dtype !== 'f32') this.error(`--precision mixed rounds f32 weights to f16 itself: it takes --dtype auto or f32, not ${flags.dtype}`, {exit: 2})
    const dtype = flags.precision === 'mixed' ? 'f32' : flags.dtype
    const folder = await resolveModel(args.model)
    // Read the cheap inputs first so bad input fails before any weights are loaded.
    const input = flags.input ? await readInputIds(flags.input) : undefined
    const tokenizer = flags.text === undefined ? undefined : await loadTokenizer(folder)
    return withBackend({device: flags.device, status: (text) => this.status(text)}, async (backend) => {
      const model = await loadModel(folder, backend, {dtype, onDType: (d) => this.status(dtypeStatus(d))})
      if (tokenizer) return this.nextTokens(tokenizer, flags.text!, flags.top, model, backend, flags.precision)
      return this.forwardFile(input!, flags.output!, model, backend, flags.precision)
    })
  }

  private async forwardFile(input: InputIds, output: string, model: LoadedModel, backend: Backend, precision: Precision): Promise<ForwardFileResult> {
    const result = await forwardIds(model, backend, input.ids, input.shape, precision)
    const tensors: TensorToWrite[] = [{name: 'logits', dtype: 'F32', shape: result.logits.shape, data: result.logits.data}]
    result.hiddenStates.forEach((h, i) => tensors.push({name: `hidden_states.${i}`, dtype: 'F32', shape: h.shape, data: h.data}))
    await writeSafetensors(output, tensors, {producer: 'hybridize forward'})
    this.log(output)
    return {output, logits: result.logits.shape, hiddenStates: result.hiddenStates.length}
  }

  private async nextTokens(tokenizer: TextTokenizer, text: string, top: number, model: LoadedModel, backend: Backend, precision: Precision): Promise<ForwardTextResult> {
    const tokens = tokenizer.encode(text)
    if (tokens.length === 0) this.error('the text tokenizes to no tokens', {exit: 2})
    const result = await forwardIds(model, backend, Int32Array.from(tokens), [1, tokens.length], precision)
    const V = model.vocabSize
    const next = topTokens(result.logits.data.subarray((tokens.length - 1) * V, tokens.length * V), top)
      .map((t) => ({...t, token: tokenizer.decode([t.id])}))
    const width = Math.max(...next.map((t) => JSON.stringify(t.token).length))
    for (const t of next) this.log(`${JSON.stringify(t.token).padEnd(width)}  ${String(t.id).padStart(6)}  ${(t.prob * 100).toFixed(2).padStart(6)}%`)
    return {tokens, next}
  }
}

interface InputIds {
  ids: Int32Array
  shape: readonly number[]
}

async function readInputIds(path: string): Promise<InputIds> {
  const file = await SafetensorsFile.open(path)
  try {
    if (!file.has('input_ids')) throw new ShapeError(`${path} has no tensor named input_ids`)
    const t = await file.read('input_ids')
    if (t.dtype !== 'I32' && t.dtype !== 'I64') throw new ShapeError(`${path}: input_ids must be I32 or I64, not ${t.dtype}`)
    if (t.shape.length !== 2) throw new ShapeError(`${path}: input_ids must have rank 2 [batch, seq], got shape [${t.shape}]`)
    return {ids: t.data as Int32Array, shape: t.shape}
  } finally {
    await file.close()
  }
}
