import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {formatBytes, formatCount, keyValueTable} from '../cli/format.js'
import {resolveModel} from '../hub/cache.js'
import type {SequenceMemory} from '../models/memory.js'
import {DEFAULT_CONTEXT_LENGTH, summarizeModel, type AnyModelSummary, type HybridSummary, type Mamba2Summary, type MemoryReport, type ModelSummary} from '../models/summary.js'

export default class Inspect extends BaseCommand {
  static override summary = 'Show a model\'s architecture, size and per-token memory.'

  static override description = `Reads config.json and the safetensors headers (no weights are loaded) and reports the
architecture, parameter count, layers, query and key/value heads, head dim, weight dtype and bytes,
for a teacher the memory its weights take loaded with each --dtype (f32, or bf16/f16: weight
matrices at 2 bytes a value), and the KV-cache bytes one token costs. MODEL is a local folder or org/name[@revision] from the
Hugging Face cache: a teacher, a Mamba-2 checkpoint, or a hybrid written by \`hybridize rewrite\`.
For every kind it also reports what one sequence of --context tokens costs while decoding: the KV
cache of the attention heads (growing with the context) and the SSM state (constant); for a
hybrid, next to the teacher's KV cache at the same length.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> fixtures/phi-tiny',
    '<%= config.bin %> <%= command.id %> meta-llama/Llama-3.2-1B --json',
    '<%= config.bin %> <%= command.id %> llama-hybrid/ --context 8192',
  ]

  static override args = {
    model: Args.string({required: true, description: 'Model folder, or org/name[@revision] in the Hugging Face cache.'}),
  }

  static override flags = {
    context: Flags.integer({description: 'Context length for the per-sequence memory.', default: DEFAULT_CONTEXT_LENGTH, min: 1}),
  }

  async run(): Promise<AnyModelSummary> {
    const {args, flags} = await this.parse(Inspect)
    const summary = await summarizeModel(await resolveModel(args.model), flags.context)
    const rows = summary.kind === 'teacher' ? teacherRows(summary) : summary.kind === 'mamba2' ? mamba2Rows(summary) : hybridRows(summary)
    this.log(keyValueTable([
      ['model', summary.folder],
      ...rows,
      ['dtype', summary.dtypes.join(', ')],
      ['weights', formatBytes(summary.weightBytes)],
      ...(summary.kind === 'teacher' ? [loadedRow(summary)] : []),
      ['tied embeddings', summary.tiedEmbeddings ? 'yes' : 'no'],
      ...memoryRows(summary),
    ]))
    return summary
  }
}

function teacherRows(s: ModelSummary): [string, string][] {
  return [
    ['architecture', `${s.architecture} (${s.family})`],
    ['parameters', `${formatCount(s.parameters)} (${s.parameters})`],
    ['layers', String(s.layers)],
    ['hidden size', String(s.hiddenSize)],
    ['vocabulary', String(s.vocabSize)],
    ['query heads', String(s.queryHeads)],
    ['key/value heads', String(s.keyValueHeads)],
    ['head dim', `${s.headDim} (rotary ${s.rotaryDim})`],
  ]
}

/** What the weights take in memory with each --dtype (bf16 and f16 alike: 2 bytes a matrix value). */
function loadedRow(s: ModelSummary): [string, string] {
  const b = s.loadedWeightBytes
  return ['weights loaded', `--dtype f32 ${formatBytes(b.f32)}, bf16 or f16 ${formatBytes(b.bf16)}`]
}

function mamba2Rows(s: Mamba2Summary): [string, string][] {
  return [
    ['architecture', `${s.architecture} (mamba2)`],
    ['parameters', `${formatCount(s.parameters)} (${s.parameters})`],
    ['layers', String(s.layers)],
    ['hidden size', String(s.hiddenSize)],
    ['vocabulary', String(s.vocabSize)],
    ['SSM heads', `${s.heads} of dim ${s.headDim}, ${s.groups} B/C group${s.groups === 1 ? '' : 's'}`],
    ['state size', String(s.stateDim)],
  ]
}

function hybridRows(s: HybridSummary): [string, string][] {
  const {kept, total} = s.attentionHeads
  const k = s.layerKinds
  return [
    ['architecture', `${s.architecture} (hybrid of ${s.teacherArchitecture})`],
    ['parameters', `${formatCount(s.parameters)} (${s.parameters})`],
    ['layers', `${s.layers}: ${k.ssm} SSM, ${k.hybrid} hybrid, ${k.attention} attention`],
    ['hidden size', String(s.hiddenSize)],
    ['vocabulary', String(s.vocabSize)],
    ['attention heads', `${kept} of ${total} kept (${((100 * kept) / total).toFixed(1)}%), head dim ${s.headDim}`],
    ['kept per layer', s.layout.map((heads, l) => (heads.length ? `${l}:${heads.length}` : '')).filter(Boolean).join(' ') || 'none'],
    ['mixer', Object.entries(s.mixer).map(([key, v]) => `${key}=${v}`).join(' ')],
  ]
}

function memoryRows(s: AnyModelSummary): [string, string][] {
  const at = (r: MemoryReport, pick: (m: SequenceMemory) => number): string => {
    const main = `${formatBytes(pick(r.checkpointDtype))} at ${s.dtypes[0]}`
    return r.checkpointDtype.bytesPerElement === 4 ? main : `${main}, ${formatBytes(pick(r.f32))} at F32`
  }
  // With keys and values in f16 (generate --kv-cache-dtype f16) beside f32 states, where the model has a KV cache.
  const withF16Kv = (r: MemoryReport, pick: (m: SequenceMemory) => number): string =>
    s.kind === 'mamba2' ? at(r, pick) : `${at(r, pick)}, ${formatBytes(pick(r.f16KvCache))} with --kv-cache-dtype f16`
  const ctx = s.sequenceMemory.f32.contextLength
  const rows: [string, string][] = []
  if (s.kind === 'teacher') rows.push(['KV cache / token', kvLine(s)])
  if (s.kind !== 'mamba2') rows.push([`KV cache @ ${ctx}`, withF16Kv(s.sequenceMemory, (m) => m.kvCacheBytes)])
  if (s.kind !== 'teacher') {
    rows.push(['SSM state', at(s.sequenceMemory, (m) => m.ssmStateBytes)], ['conv state', at(s.sequenceMemory, (m) => m.convStateBytes)])
  }
  rows.push([`memory / sequence @ ${ctx}`, withF16Kv(s.sequenceMemory, (m) => m.totalBytes)])
  if (s.kind === 'hybrid') {
    rows.push([`teacher KV cache @ ${ctx}`, withF16Kv(s.teacherKvCache, (m) => m.kvCacheBytes)], ['memory reduction', `${s.memoryReduction.toFixed(1)}x`])
  }
  return rows
}

function kvLine(s: ModelSummary): string {
  const {checkpointDtype, f32} = s.kvCacheBytesPerToken
  const main = `${formatBytes(checkpointDtype)} at ${s.dtypes[0]}`
  return checkpointDtype === f32 ? main : `${main}, ${formatBytes(f32)} at F32 (hybridize's cache; 2 bytes with --kv-cache-dtype f16)`
}
