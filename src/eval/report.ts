import {basename, dirname, join} from 'node:path'
import {HybridizeError} from '../errors.js'
import {writeFileAtomic} from '../io/atomic.js'
import {lineChartSvg, type Series} from '../plot/line-chart.js'
import {dateId, lmEvalResults, sanitizeModelName, type EvalRun, type RunSettings} from './lm-eval-results.js'
import {pythonJson} from './python-json.js'
import type {Curve, TaskResult} from './tasks/types.js'

export {sanitizeModelName}

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

/**
 * `--output-path`, laid out as lm-evaluation-harness's EvaluationTracker lays it out: for a folder
 * DIR, DIR/<model, sanitized>/results_<date>.json (lm-eval-results.ts) and, with --log-samples,
 * samples_<task>_<date>.jsonl per task beside it (one JSON object a line, lm-eval's sample
 * schema); for a path ending in .json, DIR/NAME.json, the results go to DIR/NAME_<date>.json and
 * the samples into DIR (one model only: the files would collide). One SVG per curve comparing the
 * models goes in DIR. Every file is written whole or not at all.
 */
export async function writeReports(path: string, runs: EvalRun[], settings: RunSettings, now = new Date()): Promise<string[]> {
  checkOutputPath(path, runs.length)
  const date = dateId(now)
  const asFile = path.endsWith('.json')
  const dir = asFile ? dirname(path) : path
  const written: string[] = []
  for (const run of runs) {
    const folder = asFile ? dir : join(dir, sanitizeModelName(run.model))
    const file = asFile ? join(dir, `${basename(path, '.json')}_${date}.json`) : join(folder, `results_${date}.json`)
    await writeFileAtomic(file, pythonJson(lmEvalResults(run, settings), 2))
    written.push(file)
    for (const r of run.results) {
      if (!r.samples) continue
      // The task's name made a file name as lm-eval's sanitize_task_name makes it (mc:a.jsonl: mc_a_jsonl).
      const samplesFile = join(folder, `samples_${r.task.replace(/[^\p{L}\p{N}_]/gu, '_')}_${date}.jsonl`)
      await writeFileAtomic(samplesFile, r.samples.map((s) => pythonJson(s) + '\n').join(''))
      written.push(samplesFile)
    }
  }
  written.push(...(await writeCharts(dir, runs)))
  return written
}

/** An --output-path that names a .json file holds one model's results; say so before any work. */
export function checkOutputPath(path: string, models: number): void {
  if (path.endsWith('.json') && models > 1) {
    throw new HybridizeError(`--output-path ${path} names one results file, and ${models} models were given; give a folder`, {code: 'E_USAGE'})
  }
}

/** One SVG per chart of each task's curves, a line per model (and curve label), beside the model folders. */
export async function writeCharts(dir: string, all: ModelResults[]): Promise<string[]> {
  const written: string[] = []
  for (const [t, first] of all[0].results.entries()) {
    const charts = new Map<string, {curve: Curve; series: Series[]}>()
    for (const [c, curve] of (first.curves ?? []).entries()) {
      const chart = curve.chart ?? curve.y
      const entry = charts.get(chart) ?? charts.set(chart, {curve, series: []}).get(chart)!
      for (const m of all) entry.series.push({name: curve.label ? `${m.model} (${curve.label})` : m.model, points: m.results[t].curves![c].points})
    }
    for (const [chart, {curve, series}] of charts) {
      const svg = lineChartSvg(series, {title: `${first.task}: ${curve.y} vs ${curve.x}`, xLabel: curve.x, yLabel: curve.y, yRange: curve.autoRange ? undefined : [0, 1], logX: curve.logX, chance: curve.chance})
      const file = join(dir, `${first.task}_${chart}.svg`.replace(/[^A-Za-z0-9_.,=+-]/g, '_'))
      await writeFileAtomic(file, svg)
      written.push(file)
    }
  }
  return written
}
