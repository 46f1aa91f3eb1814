import type {HybridConfig} from '../models/hybrid-config.js'
import {mixerToJson} from '../models/hybrid-config.js'
import {layersSection, memorySection} from '../rewrite/model-card.js'
import type {TeacherIdentity} from '../hub/model-identity.js'
import type {StepMetrics} from './metrics.js'
import type {DistillSettings, StageNumber} from './options.js'
import {stage1} from './stage1.js'
import {stage2} from './stage2.js'
import {stage3} from './stage3.js'

/**
 * README.md and provenance.json of the distilled student (`<run>/student/`): they describe the
 * student, not the hybrid it started as (whose provenance is kept inside, under `hybrid`).
 * The weights are written in F32 whatever the hybrid's dtype was.
 */
export interface StudentDescription {
  config: HybridConfig
  teacher: TeacherIdentity
  /** The `hybridize distill` command line that ran (on --resume, the resuming one). */
  command: string
  /** The hybrid's provenance.json, when it has one (written by `hybridize rewrite`). */
  hybridProvenance?: Record<string, unknown>
}

export const STUDENT_DTYPE = 'F32' as const

const TITLES: Record<StageNumber, {title: string; lossName: string}> = {1: stage1, 2: stage2, 3: stage3}

interface StageRecord {
  stage: StageNumber
  title: string
  loss_name: string
  lr: number
  steps: number
  tokens: number
  /** null for a stage that ran no step. */
  first_loss: number | null
  final_loss: number | null
}

/** Per stage run: tokens actually trained, steps, and the loss at the first and the last step. */
function stageRecords(settings: DistillSettings, metrics: StepMetrics[]): StageRecord[] {
  return settings.stages.map((stage, i) => {
    const rows = metrics.filter((m) => m.stage === stage)
    const last = rows.at(-1)
    return {
      stage,
      title: TITLES[stage].title,
      loss_name: TITLES[stage].lossName,
      lr: settings.lr[i],
      steps: last?.step ?? 0,
      tokens: last?.tokens ?? 0,
      first_loss: rows[0]?.loss ?? null,
      final_loss: last?.loss ?? null,
    }
  })
}

const loss = (x: number | null): string => (x === null ? '-' : x.toPrecision(4))

function keptHeads(config: HybridConfig): [number, number][] {
  return config.layers.flatMap((layer, l) => layer.attentionHeads.map((h) => [l, h] as [number, number]))
}

function dataLine(s: DistillSettings): string {
  const mix = s.mix ? `, mixed with synthetic task rows (\`--mix ${s.mix}\`)` : ''
  return `\`${s.data}\`${s.data.endsWith('.jsonl') ? ` (field \`${s.textField}\`)` : ''}${mix}; ${s.batchSize} x ${s.seqLen}-token sequences a micro-batch, ${s.gradAccum} micro-batch(es) a step, seed ${s.seed}`
}

function precisionLine(s: DistillSettings, metrics: StepMetrics[]): string {
  if (s.precision === 'f32') return 'f32 throughout'
  const skipped = metrics.filter((m) => m.skipped).length
  return `mixed (\`--precision mixed\`): linear layers' matmuls on f16-rounded operands with f32 accumulation, f32 weights and AdamW state, dynamic loss scaling; ${skipped} step(s) skipped for overflowing gradients`
}

export function studentProvenance(d: StudentDescription, settings: DistillSettings, metrics: StepMetrics[]): Record<string, unknown> {
  const t = d.config.teacher
  return {
    tool: 'hybridize distill',
    created: new Date().toISOString(),
    command: d.command,
    teacher: {id: d.teacher.id, revision: d.teacher.revision ?? null},
    student: settings.student,
    heads: {kept: keptHeads(d.config), total: t.numLayers * t.numHeads},
    mixer: mixerToJson(d.config.mixer),
    dtype: STUDENT_DTYPE,
    distillation: {
      stages: stageRecords(settings, metrics),
      data: settings.data,
      text_field: settings.textField,
      mix: settings.mix ?? null,
      batch_size: settings.batchSize,
      seq_len: settings.seqLen,
      grad_accum: settings.gradAccum,
      seed: settings.seed,
      layers: settings.layers ?? null,
      freeze: settings.freeze ?? null,
      loss: settings.loss,
      temperature: settings.temperature,
      precision: settings.precision,
      skipped_steps: metrics.filter((m) => m.skipped).length,
    },
    hybrid: d.hybridProvenance ?? null,
  }
}

export function studentCard(d: StudentDescription, settings: DistillSettings, metrics: StepMetrics[]): string {
  const t = d.config.teacher
  const total = t.numLayers * t.numHeads
  const kept = keptHeads(d.config)
  const revision = d.teacher.revision ? ` at revision \`${d.teacher.revision}\`` : ''
  const stages = stageRecords(settings, metrics)
  const rows = stages.map((s) => `| ${s.stage} | ${s.title} | ${s.tokens.toLocaleString('en-US')} | ${s.steps} | ${s.lr} | ${s.loss_name} | ${loss(s.first_loss)} | ${loss(s.final_loss)} |`)
  return `# Distilled hybrid of ${d.teacher.id}

A hybrid student distilled by \`hybridize distill\` from the teacher \`${d.teacher.id}\`${revision} with the
MOHAWK stages ${settings.stages.join(', ')}: ${d.config.mixer.kind} SSM mixers everywhere, keeping ${kept.length} of the
teacher's ${total} attention heads (${((100 * kept.length) / total).toFixed(1)}%) as attention${kept.length > 0 ? ` (layer.head: ${kept.map(([l, h]) => `${l}.${h}`).join(', ')})` : ''}.
It started from the hybrid \`${settings.student}\`.

- Weights: ${STUDENT_DTYPE} safetensors.
- Data: ${dataLine(settings)}.
- Precision: ${precisionLine(settings, metrics)}.
- \`provenance.json\`: teacher, heads kept, every stage's settings and losses, the data, the command
  line, and the provenance of the hybrid it started from (under \`hybrid\`).

## Distillation

| stage | name | tokens trained | steps | peak lr | loss | first | final |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Stage 3's ${settings.loss === 'kl' ? 'KL divergence' : 'soft-target cross-entropy'} is against the teacher's logits at temperature ${settings.temperature}${settings.temperature === 1 ? '' : ', scaled by its square'}.

${layersSection(d.config)}
${memorySection(d.config, STUDENT_DTYPE)}
## How it was made

\`\`\`
${d.command}
\`\`\`
`
}
