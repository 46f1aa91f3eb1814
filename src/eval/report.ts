import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {writeFileAtomic} from '../io/atomic.js'
import {lineChartSvg, type Series} from '../plot/line-chart.js'
import type {Curve, TaskResult} from './tasks/types.js'

export interface ModelResults {
  model: string
  results: TaskResult[]
}

/** Rows task/metric, one column per model; stderr shown beside its metric as ± like lm-evaluation-harness. */
export function resultsTable(all: ModelResults[]): string {
  const header = ['task', 'metric', ...all.map((m) => m.model)]
  const rows: string[][] = []
  for (const [t, first] of all[0].results.entries()) {
    for (const key of Object.keys(first.metrics)) {
      if (key.includes('_stderr,')) continue
      const [metric, filter] = key.split(',')
      const stderrKey = `${metric}_stderr,${filter}`
      rows.push([
        first.task,
        filter === 'none' ? metric : `${metric} (${filter})`,
        ...all.map((m) => {
          const r = m.results[t].metrics
          const v = r[key]
          const se = r[stderrKey]
          return `${fmt(v)}${se !== undefined && Number.isFinite(se) ? ` ± ${fmt(se)}` : ''}`
        }),
      ])
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(2) : v.toFixed(4)
}

/** lm-evaluation-harness's directory naming for a model: path separators become '__'. */
export function sanitizeModelName(model: string): string {
  return model.replace(/^\.?\/+/, '').replace(/[/\\]/g, '__')
}

/**
 * `--output-path DIR`: DIR/<model>/results_<date>.json in lm-evaluation-harness's shape,
 * samples_<task>_<date>.jsonl with --log-samples, and one SVG per curve comparing the models.
 */
export async function writeReports(dir: string, all: ModelResults[], config: Record<string, unknown>): Promise<string[]> {
  const date = new Date().toISOString().replace(/[:.]/g, '-')
  const written: string[] = []
  for (const m of all) {
    const folder = join(dir, sanitizeModelName(m.model))
    await mkdir(folder, {recursive: true})
    const results = Object.fromEntries(m.results.map((r) => [r.task, {alias: r.task, ...r.metrics}]))
    const file = join(folder, `results_${date}.json`)
    await writeFileAtomic(file, JSON.stringify({results, config: {model: m.model, ...config}, date}, null, 2) + '\n')
    written.push(file)
    for (const r of m.results) {
      if (!r.samples) continue
      const samplesFile = join(folder, `samples_${r.task.replace(/[^A-Za-z0-9_.-]/g, '_')}_${date}.jsonl`)
      await writeFileAtomic(samplesFile, r.samples.map((s) => JSON.stringify(s)).join('\n') + '\n')
      written.push(samplesFile)
    }
  }
  for (const [t, first] of all[0].results.entries()) {
    const charts = new Map<string, {curve: Curve; series: Series[]}>()
    for (const [c, curve] of (first.curves ?? []).entries()) {
      const chart = curve.chart ?? curve.y
      const entry = charts.get(chart) ?? charts.set(chart, {curve, series: []}).get(chart)!
      for (const m of all) entry.series.push({name: curve.label ? `${m.model} (${curve.label})` : m.model, points: m.results[t].curves![c].points})
    }
    for (const [chart, {curve, series}] of charts) {
      const svg = lineChartSvg(series, {title: `${first.task}: ${curve.y} vs ${curve.x}`, xLabel: curve.x, yLabel: curve.y, yRange: curve.autoRange ? undefined : [0, 1], logX: curve.logX})
      const file = join(dir, `${first.task}_${chart}.svg`.replace(/[^A-Za-z0-9_.,=+-]/g, '_'))
      await writeFile(file, svg)
      written.push(file)
    }
  }
  return written
}
