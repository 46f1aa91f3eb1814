/**
 * The charts of scripts/natural-curves.ts's results.json (issue 21, point 3), as SVG in <out>/plots/:
 *   heads-exact.svg, heads-acc.svg   retrieval against attention heads kept: the head-level students
 *                                    (K of find-heads' individual ranking), the layer-level hybrids and
 *                                    the teacher, each point labelled with its memory per sequence at the
 *                                    experiment's context
 *   memory-exact.svg                 the same students: retrieval against that memory (log scale)
 *   state-retrieval.svg, state-ppl.svg    retrieval and held-out Brown perplexity against d_state
 *   mixer.svg, mixer-ppl.svg, selection.svg, selection-ppl.svg   bars: the mean over seeds, each seed a dot
 *   stages-exact.svg, stages-ppl.svg      all stages, no stage 1, no stage 2 against the tokens spent
 * Every line is one data seed. Retrieval is the mean over the pair counts scored (results.md has each).
 *
 *   npx vite-node scripts/plot-natural-curves.ts -- runs/natural-curves
 */
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {barChartSvg, type BarSeries} from '../src/plot/bar-chart.js'
import {lineChartSvg, type Series} from '../src/plot/line-chart.js'

interface Kv {
  acc: number
  exact: number
  byPairs: Record<string, number>
}

interface Memory {
  totalBytes: number
  contextLength: number
}

interface Result {
  name: string
  seed: number
  curves: string[]
  selection: string
  mixer: string
  headsKept: number
  attentionLayers: number
  dState: number
  ablation: string
  budgetFraction: number
  tokens: number
  kv: Kv
  ppl: {word: number}
  memory: Memory
}

interface Report {
  teacher: {kv: Kv; ppl: {word: number}; memory: Memory; heads: number}
  results: Result[]
}

const folder = process.argv.slice(2).filter((a) => a !== '--')[0] ?? 'runs/natural-curves'
const report = JSON.parse(await readFile(join(folder, 'results.json'), 'utf8')) as Report
const plots = join(folder, 'plots')
await mkdir(plots, {recursive: true})
const {teacher, results} = report
const seeds = [...new Set(results.map((r) => r.seed))].sort((a, b) => a - b)
const context = teacher.memory.contextLength
const kib = (m: Memory) => `${Math.round(m.totalBytes / 1024)} KiB`
/** What guessing among the candidates scores by log-likelihood, averaged over the pair counts as acc is. */
const pairCounts = Object.keys(teacher.kv.byPairs).map(Number)
const chanceAcc = pairCounts.reduce((a, p) => a + 1 / p, 0) / pairCounts.length
/** A curve's students; the stage ablations stand only in the stages curve. */
const inCurve = (curve: string) => results.filter((r) => r.curves.includes(curve))
const bySeed = (rows: Result[], seed: number) => rows.filter((r) => r.seed === seed)
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const written: string[] = []

async function save(name: string, svg: string): Promise<void> {
  await writeFile(join(plots, name), svg)
  written.push(name)
}

/** Heads kept and memory: the head-level line and the layer-level points per seed, and the teacher. */
async function headsCharts(): Promise<void> {
  const rows = inCurve('heads')
  if (rows.length === 0) return
  const headLevel = rows.filter((r) => r.selection !== 'layers')
  const layerLevel = rows.filter((r) => r.selection === 'layers')
  const xMax = Math.max(...rows.map((r) => r.headsKept))
  // Memory labels on the first seed's points only (the seeds' students are the same shapes).
  const point = (r: Result, y: (kv: Kv) => number, first: boolean) => ({x: r.headsKept, y: y(r.kv), label: first ? kib(r.memory) : undefined})
  const seriesOf = (y: (kv: Kv) => number): Series[] => [
    ...seeds.flatMap((seed, i) => [
      {name: `heads kept (individual ranking), seed ${seed}`, points: bySeed(headLevel, seed).map((r) => point(r, y, i === 0))},
      {name: `layer-level hybrid (whole attention layers), seed ${seed}`, points: bySeed(layerLevel, seed).map((r) => point(r, y, i === 0))},
    ]).filter((s) => s.points.length > 0),
    {name: `teacher (all ${teacher.heads} heads, ${kib(teacher.memory)})`, points: [0, xMax].map((x) => ({x, y: y(teacher.kv)}))},
  ]
  const title = (what: string) => `${what} vs heads kept (labels: memory at ${context} tokens)`
  await save('heads-exact.svg', lineChartSvg(seriesOf((kv) => kv.exact), {title: title('exact match'), xLabel: `attention heads kept (of ${teacher.heads})`, yLabel: 'exact match, held-out keys', yRange: [0, 1]}))
  await save('heads-acc.svg', lineChartSvg(seriesOf((kv) => kv.acc), {
    title: title('acc'), xLabel: `attention heads kept (of ${teacher.heads})`, yLabel: 'acc (log-likelihood), held-out keys', yRange: [0, 1], chance: [0, xMax].map((x) => ({x, y: chanceAcc})),
  }))
  const memoryPoint = (r: Result) => ({x: r.memory.totalBytes / 1024, y: r.kv.exact, label: r.selection === 'layers' ? `${r.attentionLayers} layer${r.attentionLayers > 1 ? 's' : ''}` : `K=${r.headsKept}`})
  await save('memory-exact.svg', lineChartSvg([
    ...seeds.flatMap((seed) => [
      {name: `heads kept, seed ${seed}`, points: bySeed(headLevel, seed).map(memoryPoint)},
      {name: `layer-level hybrid, seed ${seed}`, points: bySeed(layerLevel, seed).map(memoryPoint)},
    ]).filter((s) => s.points.length > 0),
    {name: 'teacher', points: [{x: teacher.memory.totalBytes / 1024, y: teacher.kv.exact, label: 'teacher'}]},
  ], {title: `exact match vs memory per sequence at ${context} tokens`, xLabel: `KiB per sequence at ${context} tokens (KV cache + SSM state, 16-bit)`, yLabel: 'exact match, held-out keys', yRange: [0, 1], logX: true}))
}

/** Retrieval and perplexity against d_state, a line per seed and metric. */
async function stateCharts(): Promise<void> {
  const rows = inCurve('state')
  if (rows.length === 0) return
  const line = (name: string, seed: number, y: (r: Result) => number): Series => ({name: `${name}, seed ${seed}`, points: bySeed(rows, seed).map((r) => ({x: r.dState, y: y(r)}))})
  const xs = [...new Set(rows.map((r) => r.dState))]
  await save('state-retrieval.svg', lineChartSvg(seeds.flatMap((seed) => [line('exact match', seed, (r) => r.kv.exact), line('acc', seed, (r) => r.kv.acc)]), {
    title: `retrieval vs d_state (${rows[0].headsKept} heads kept)`, xLabel: 'd_state (N)', yLabel: 'held-out keys', yRange: [0, 1], logX: true, chance: xs.map((x) => ({x, y: chanceAcc})),
  }))
  await save('state-ppl.svg', lineChartSvg([...seeds.map((seed) => line('student', seed, (r) => r.ppl.word)), {name: 'teacher', points: xs.map((x) => ({x, y: teacher.ppl.word}))}], {
    title: `held-out Brown perplexity vs d_state (${rows[0].headsKept} heads kept)`, xLabel: 'd_state (N)', yLabel: 'word perplexity, held-out Brown', logX: true,
  }))
}

/** Bars per category of `key`: exact and acc (and perplexity apart), the mean over seeds with each seed marked. */
async function barCharts(curve: string, key: (r: Result) => string, what: string, order: string[] = []): Promise<void> {
  const rows = inCurve(curve)
  if (rows.length === 0) return
  // In `order` where it names them, the rest as they come.
  const rank = (c: string) => (order.includes(c) ? order.indexOf(c) : order.length)
  const categories = [...new Set(rows.map(key))].sort((a, b) => rank(a) - rank(b))
  const bar = (y: (r: Result) => number) => categories.map((c) => {
    const ys = rows.filter((r) => key(r) === c).map(y)
    return ys.length ? {value: mean(ys), marks: ys} : undefined
  })
  const heads = rows.find((r) => r.selection !== 'none')?.headsKept
  const title = (m: string) => `${m} by ${what}, ${heads} heads kept (bar: mean of ${seeds.length} seeds; dot: each)`
  const retrieval: BarSeries[] = [{name: 'exact match', bars: bar((r) => r.kv.exact)}, {name: 'acc (log-likelihood)', bars: bar((r) => r.kv.acc)}]
  await save(`${curve}.svg`, barChartSvg(categories, retrieval, {title: title('retrieval'), yLabel: 'held-out keys', yRange: [0, 1]}))
  await save(`${curve}-ppl.svg`, barChartSvg(categories, [{name: `word perplexity (teacher ${teacher.ppl.word.toFixed(1)})`, bars: bar((r) => r.ppl.word)}], {title: title('perplexity'), yLabel: 'word perplexity'}))
}

/** Each stage variant against the tokens it spent, a line per variant and seed. */
async function stageCharts(): Promise<void> {
  const rows = results.filter((r) => r.curves.includes('stages'))
  if (rows.length === 0) return
  const variants = [...new Set(rows.map((r) => r.ablation))]
  const lines = (y: (r: Result) => number): Series[] => variants.flatMap((v) => seeds.map((seed) => ({name: `${v}, seed ${seed}`, points: bySeed(rows, seed).filter((r) => r.ablation === v).map((r) => ({x: r.tokens, y: y(r)}))})))
  const title = (m: string) => `${m} by stages run, over budgets (${rows[0].headsKept} heads kept)`
  await save('stages-exact.svg', lineChartSvg(lines((r) => r.kv.exact), {title: title('exact match'), xLabel: 'distillation tokens (all stages)', yLabel: 'exact match, held-out keys', yRange: [0, 1], logX: true}))
  await save('stages-ppl.svg', lineChartSvg(lines((r) => r.ppl.word), {title: title('perplexity'), xLabel: 'distillation tokens (all stages)', yLabel: 'word perplexity, held-out Brown', logX: true}))
}

await headsCharts()
await stateCharts()
await barCharts('mixer', (r) => (r.ablation === 'all stages' ? r.mixer : `${r.mixer} (${r.ablation})`), 'mixer')
await barCharts('selection', (r) => r.selection, 'head selection', ['individual', 'greedy', 'aggregate', 'random', 'none'])
await stageCharts()
console.log(written.map((f) => join(plots, f)).join('\n'))
