import {bytesPerElement, type Dtype} from '../io/safetensors/dtypes.js'
import {layerKind, mixerToJson, HYBRID_MODEL_TYPE, type HybridConfig} from '../models/hybrid-config.js'
import {hybridSequenceMemory, teacherSequenceMemory} from '../models/memory.js'
import type {HeadId} from './heads-file.js'
import type {SsmInit} from './init-weights.js'
import type {TeacherIdentity} from '../hub/model-identity.js'

export interface CardInput {
  config: HybridConfig
  identity: TeacherIdentity
  kept: HeadId[]
  headsSha256: string
  command: string
  dtype: Dtype
  init?: SsmInit
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`

/** README.md of a rewritten checkpoint: what it is, where it came from, its layout and its memory per sequence. */
export function modelCard({config, identity, kept, headsSha256, command, dtype, init}: CardInput): string {
  const total = config.teacher.numLayers * config.teacher.numHeads
  const revision = identity.revision ? ` at revision \`${identity.revision}\`` : ''
  return `# Hybrid of ${identity.id}

A hybrid student written by \`hybridize rewrite\`: the attention of \`${identity.id}\`${revision} replaced by
${config.mixer.kind} SSM mixers, keeping ${kept.length} of its ${total} attention heads
(${((100 * kept.length) / total).toFixed(1)}%) as attention. It is initialised from the teacher${init?.kind === 'random' ? ` (the SSM
mixers' projections at random, seed ${init.seed})` : ''} and not yet distilled: run \`hybridize distill\` before expecting the teacher's quality.

- \`config.json\`: \`model_type: "${HYBRID_MODEL_TYPE}"\`, the teacher's config under \`teacher_config\`,
  the mixer settings under \`mixer\`, and per layer the teacher query heads kept as attention.
- Weights: ${dtype} safetensors; tensor names outside the attention are the teacher's.
- Heads: chosen from a heads.json with sha256 \`${headsSha256}\`.
- \`provenance.json\`: teacher id and revision, the heads.json digest and the command line.

${layersSection(config)}
${memorySection(config, dtype)}
## How it was made

\`\`\`
${command}
\`\`\`
`
}

/** The "Layers" section of a hybrid's card: per layer its kind and the heads kept as attention, and the mixer. */
export function layersSection(config: HybridConfig): string {
  const rows = config.layers.map((layer, l) => {
    const kind = layerKind(config, l)
    const heads = kind === 'attention' ? 'all' : layer.attentionHeads.join(', ') || '-'
    return `| ${l} | ${kind} | ${heads} |`
  })
  const mixer = Object.entries(mixerToJson(config.mixer)).map(([k, v]) => `\`${k}\`: ${JSON.stringify(v)}`).join(', ')
  return `## Layers

A layer keeping no heads is a plain SSM layer; one keeping every head is the teacher's attention
layer; one keeping some runs the SSM over the full width beside attention over the kept heads,
combined as retrieval-aware distillation's DoubleBlockAdapter does:
\`(ssm + W·statmatch(attention, ssm) + b) / 2\`.

| layer | kind | attention heads kept |
| --- | --- | --- |
${rows.join('\n')}

Mixer: ${mixer}.
`
}

/** The "Memory per sequence" section: KV cache and SSM state of the teacher against the hybrid, in `dtype`. */
export function memorySection(config: HybridConfig, dtype: Dtype): string {
  const bytes = bytesPerElement(dtype)
  const ctx = 4096
  const student = hybridSequenceMemory(config, ctx, bytes)
  const teacher = teacherSequenceMemory(config.teacher, ctx, bytes)
  return `## Memory per sequence at ${ctx} tokens (${dtype})

| | teacher | this hybrid |
| --- | --- | --- |
| KV cache | ${mib(teacher.kvCacheBytes)} | ${mib(student.kvCacheBytes)} |
| SSM state | - | ${mib(student.ssmStateBytes)} |
| conv state | - | ${mib(student.convStateBytes)} |
| total | ${mib(teacher.totalBytes)} | ${mib(student.totalBytes)} |
`
}
