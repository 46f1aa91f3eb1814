#!/usr/bin/env node
// The fixture reasoner's results as EXPERIMENTS.md's table (scripts/reasoner-h200.sh runs it at the
// end; run it here on an unpacked reasoner-results.tgz): per model the greedy figures, the answers
// sampled, majority-vote accuracy and coverage at each budget; then, per student and metric, where
// its curve crosses the teacher's; and the students' distillation losses.
//   node scripts/reasoner-report.mjs [RUN]      (RUN: default runs/reasoner)
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

/**
 * Where a student's curve stands against the teacher's, budget by budget (budgets ascending, one
 * value each): the budgets it is ahead at, behind at, level at, and each crossing, between the
 * last budget of one side and the first of the other (level budgets between them are skipped).
 */
export function compareCurves(budgets, teacher, student) {
  const out = {ahead: [], behind: [], level: [], crossings: []}
  let last
  budgets.forEach((b, i) => {
    const side = student[i] > teacher[i] ? 'ahead' : student[i] < teacher[i] ? 'behind' : 'level'
    out[side].push(b)
    if (side === 'level') return
    if (last && last.side !== side) out.crossings.push({after: last.budget, by: b, to: side})
    last = {side, budget: b}
  })
  return out
}

/** One sentence for compareCurves' result. */
export function describeComparison(name, metric, c) {
  const at = (list) => list.map((b) => `${b}s`).join(', ')
  const parts = []
  if (c.ahead.length) parts.push(`ahead at ${at(c.ahead)}`)
  if (c.behind.length) parts.push(`behind at ${at(c.behind)}`)
  if (c.level.length) parts.push(`level at ${at(c.level)}`)
  const crossings = c.crossings.map((x) => `crosses to ${x.to} between ${x.after}s and ${x.by}s`)
  return `${name}, ${metric}: ${parts.join('; ')}; ${crossings.length ? crossings.join(', ') : 'no crossover'}`
}

const read = (file) => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined)
const metricsOf = (results, model) => results?.models.find((m) => m.model === model)?.results[0].metrics
const pct = (x) => (x === undefined ? '-' : `${(100 * x).toFixed(0)}%`)

function report(run) {
  const timed = read(join(run, 'eval.json'))
  if (!timed) throw new Error(`${run}/eval.json is missing: the experiment has not run`)
  const greedy = read(join(run, 'eval-greedy.json'))
  const validation = read(join(run, 'validation.json'))
  const models = timed.models.map((m) => m.model)
  const first = timed.models[0].results[0].metrics
  const budgets = Object.keys(first).filter((k) => k.startsWith('maj_acc,budget=')).map((k) => Number(k.slice('maj_acc,budget='.length, -1)))
  const curve = (metrics, name) => budgets.map((b) => metrics[`${name},budget=${b}s`])
  const label = (model) => (model.endsWith('teacher') ? 'teacher' : model.includes('distill-hybrid') ? 'hybrid (2 heads)' : model.includes('distill-ssm') ? 'pure SSM' : model)
  const lines = [
    `| model | validation greedy (seed 5002) | greedy exact match | samples at ${budgets.at(-1)} s | maj_acc ${budgets.map((b) => `${b}`).join(' / ')} s | coverage ${budgets.map((b) => `${b}`).join(' / ')} s |`,
    '| --- | --- | --- | --- | --- | --- |',
  ]
  for (const model of models) {
    const m = metricsOf(timed, model)
    const valid = model.endsWith('teacher') ? pct(validation?.models[0].results[0].metrics['exact_match,score-first']) : '-'
    lines.push(`| ${label(model)} | ${valid} | ${pct(metricsOf(greedy, model)?.['exact_match,score-first'])} | ${m[`samples,budget=${budgets.at(-1)}s`]} | ${curve(m, 'maj_acc').map(pct).join(' / ')} | ${curve(m, 'coverage').map(pct).join(' / ')} |`)
  }
  lines.push('')
  const teacher = metricsOf(timed, models[0])
  for (const model of models.slice(1)) {
    for (const metric of ['maj_acc', 'coverage']) {
      lines.push(`- ${describeComparison(label(model), metric, compareCurves(budgets, curve(teacher, metric), curve(metricsOf(timed, model), metric)))}`)
    }
  }
  for (const student of ['hybrid', 'ssm']) {
    const provenance = read(join(run, `distill-${student}`, 'student', 'provenance.json'))
    if (!provenance) continue
    const stages = provenance.distillation.stages.map((s) => `stage ${s.stage} ${s.first_loss.toPrecision(4)} -> ${s.final_loss.toPrecision(4)} (${s.tokens} tokens)`)
    lines.push(`- ${student} distillation: ${stages.join('; ')}; heads kept ${JSON.stringify(provenance.heads.kept)}`)
  }
  return lines.join('\n')
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.log(report(process.argv[2] ?? 'runs/reasoner'))
