import {appendFile, readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {writeFileAtomic} from '../io/atomic.js'
import {lineChartSvg, type Series} from '../plot/line-chart.js'
import type {StageNumber} from './options.js'

/** One line of `metrics.jsonl`: an optimizer step. */
export interface StepMetrics {
  stage: StageNumber
  step: number
  steps: number
  /** Tokens this stage has trained on after the step, over every device (--devices) and worker (--workers). */
  tokens: number
  /** Sum over trained layers (stages 1-2, as MOHAWK sums them), else the distillation loss; mean over micro-batches. */
  loss: number
  /** Per trained layer (stages 1-2): layer number -> its loss. */
  layer_loss?: Record<string, number>
  lr: number
  /** null on a skipped step (its gradients were not finite). */
  grad_norm: number | null
  tokens_per_s: number
  elapsed_s: number
  /** Mixed precision only: the loss scale this step's backward ran at (train/loss-scaler.ts). */
  scale?: number
  /** Mixed precision only, on a step whose gradients overflowed: the optimizer did not step, and the scale was halved. */
  skipped?: true
}

export const metricsFile = (out: string): string => join(out, 'metrics.jsonl')

export async function appendMetrics(out: string, m: StepMetrics): Promise<void> {
  await appendFile(metricsFile(out), JSON.stringify(m) + '\n')
}

export async function readMetrics(out: string): Promise<StepMetrics[]> {
  return parseMetrics(await readFile(metricsFile(out), 'utf8').catch(() => ''))
}

/** The records of a metrics.jsonl text. */
export function parseMetrics(text: string): StepMetrics[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as StepMetrics)
}

/** Keep the first `lines` records: a resumed run rewrites what came after its checkpoint. */
export async function truncateMetrics(out: string, lines: number): Promise<void> {
  const kept = (await readMetrics(out)).slice(0, lines)
  await writeFileAtomic(metricsFile(out), kept.map((m) => JSON.stringify(m) + '\n').join(''))
}

/**
 * One loss-curve image per stage, `loss-stage<S>.svg`, against tokens: a line per trained layer
 * for stages 1 and 2 (their losses are per layer), one line for stage 3. Returns the files written.
 */
export async function writeLossCurves(out: string, metrics: StepMetrics[], lossNames: Record<StageNumber, string>): Promise<string[]> {
  const files: string[] = []
  for (const stage of [1, 2, 3] as StageNumber[]) {
    const rows = metrics.filter((m) => m.stage === stage)
    if (rows.length === 0) continue
    const layers = Object.keys(rows[0].layer_loss ?? {})
    const series: Series[] = layers.length > 0
      ? layers.map((l) => ({name: `layer ${l}`, points: rows.map((m) => ({x: m.tokens, y: m.layer_loss![l]}))}))
      : [{name: 'loss', points: rows.map((m) => ({x: m.tokens, y: m.loss}))}]
    const file = join(out, `loss-stage${stage}.svg`)
    await writeFileAtomic(file, lineChartSvg(series, {title: `Stage ${stage}: ${lossNames[stage]}`, xLabel: 'tokens', yLabel: 'loss'}))
    files.push(file)
  }
  return files
}
