/**
 * An f32 run against a mixed-precision run of the same stages, data and seed (scripts/mixed-h200.sh): per stage, an
 * SVG of the loss against the step with both runs, and a table on stdout (markdown, for EXPERIMENTS.md) of the
 * largest per-step relative loss difference, the gradient norms and the skipped steps. Run after `npm run build`:
 *
 *   npx vite-node scripts/plot-precision.ts -- --f32 F32.jsonl --mixed MIXED.jsonl --out DIR [--title "Llama-3.2-1B shapes, H100"]
 *
 * Each file is a run's metrics.jsonl (or the run's folder). Writes DIR/precision-stage<S>.svg.
 */
import {mkdir, readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import {parseMetrics, readMetrics, type StepMetrics} from '../src/distill/metrics.js'
import {writeFileAtomic} from '../src/io/atomic.js'
import {lineChartSvg} from '../src/plot/line-chart.js'

const {values: args} = parseArgs({options: {f32: {type: 'string'}, mixed: {type: 'string'}, out: {type: 'string'}, title: {type: 'string', default: ''}}})
if (!args.f32 || !args.mixed || !args.out) throw new Error('give --f32 FILE --mixed FILE --out DIR')

/** A run's folder or its metrics.jsonl file. */
async function metricsOf(path: string): Promise<StepMetrics[]> {
  return (await stat(path)).isDirectory() ? readMetrics(path) : parseMetrics(await readFile(path, 'utf8'))
}

const [f32, mixed] = [await metricsOf(args.f32), await metricsOf(args.mixed)]
await mkdir(args.out, {recursive: true})
const rms = (xs: number[]): number => Math.sqrt(xs.reduce((s, x) => s + x * x, 0) / Math.max(1, xs.length))
console.log('| stage | steps (f32 / mixed) | max per-step rel. loss difference | last loss f32 / mixed | grad norm f32 / mixed (rms) | skipped (mixed) |')
console.log('| --- | --- | --- | --- | --- | --- |')
for (const stage of [1, 2, 3] as const) {
  const [a, b] = [f32, mixed].map((rows) => rows.filter((m) => m.stage === stage))
  if (a.length === 0 && b.length === 0) continue
  const n = Math.min(a.length, b.length)
  const diff = Math.max(0, ...Array.from({length: n}, (_, i) => Math.abs(b[i].loss - a[i].loss) / Math.abs(a[i].loss)))
  const norms = (rows: StepMetrics[]) => rms(rows.map((m) => m.grad_norm).filter((g): g is number => g !== null))
  const last = (rows: StepMetrics[]) => (rows.length > 0 ? rows.at(-1)!.loss.toPrecision(5) : '-')
  console.log(`| ${stage} | ${a.length} / ${b.length} | ${n > 0 ? diff.toExponential(2) : '-'} | ${last(a)} / ${last(b)} | ${norms(a).toPrecision(3)} / ${norms(b).toPrecision(3)} | ${b.filter((m) => m.skipped).length} |`)
  const svg = lineChartSvg(
    [{name: 'f32', points: a.map((m) => ({x: m.step, y: m.loss}))}, {name: 'mixed (f16 matmuls, f32 sums, loss scaling)', points: b.map((m) => ({x: m.step, y: m.loss}))}],
    {title: `Stage ${stage}: f32 against mixed precision${args.title ? ` (${args.title})` : ''}`, xLabel: 'step', yLabel: 'loss'},
  )
  const file = join(args.out, `precision-stage${stage}.svg`)
  await writeFileAtomic(file, svg)
  console.error(`wrote ${file}`)
}
