/**
 * The decode sweep's charts (issue 23, point 3; scripts/decode-h200.sh writes the files): for each context, tokens/s
 * against batch size for every model and the transformers peer (log x), and one chart of the best tokens/s and of the
 * memory a sequence against context. Only cells that ran (status ok) are drawn. Run here after a device call:
 *
 *   npx vite-node scripts/plot-decode.ts -- --dir experiments/decode/FOLDER [--title "H100"]
 *
 * Reads DIR/decode-sweep.jsonl and DIR/peer-decode.jsonl; writes DIR/decode-<context>.svg and DIR/decode-best.svg.
 */
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import {writeFileAtomic} from '../src/io/atomic.js'
import {lineChartSvg, type Series} from '../src/plot/line-chart.js'

interface Cell {
  model: string
  context: number
  batch: number
  status: string
  decode_tok_s?: number
  measured_bytes_per_seq?: number
  kv_bytes_per_seq?: number
  state_bytes_per_seq?: number
}

const {values: args} = parseArgs({options: {dir: {type: 'string'}, title: {type: 'string', default: ''}}})
if (!args.dir) throw new Error('give --dir FOLDER (with decode-sweep.jsonl and peer-decode.jsonl)')
const lines = async (file: string): Promise<Cell[]> =>
  (await readFile(join(args.dir!, file), 'utf8').catch(() => '')).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Cell)
const cells = [...(await lines('decode-sweep.jsonl')), ...(await lines('peer-decode.jsonl'))].filter((c) => c.status === 'ok' && Number.isFinite(c.decode_tok_s))
const models = [...new Set(cells.map((c) => c.model))]
const contexts = [...new Set(cells.map((c) => c.context))].sort((a, b) => a - b)
const suffix = args.title ? ` (${args.title})` : ''

async function write(name: string, series: Series[], title: string, xLabel: string, yLabel: string): Promise<void> {
  const file = join(args.dir!, name)
  await writeFileAtomic(file, lineChartSvg(series.filter((s) => s.points.length > 0), {title, xLabel, yLabel, logX: true}))
  console.error(`wrote ${file}`)
}

for (const context of contexts) {
  const series = models.map((model) => ({
    name: model,
    points: cells.filter((c) => c.model === model && c.context === context).sort((a, b) => a.batch - b.batch).map((c) => ({x: c.batch, y: c.decode_tok_s!})),
  }))
  await write(`decode-${context}.svg`, series, `Decode at ${context} tokens of context${suffix}`, 'batch size (sequences)', 'tokens/s')
}
const best = (model: string, context: number): Cell | undefined =>
  cells.filter((c) => c.model === model && c.context === context).sort((a, b) => b.decode_tok_s! - a.decode_tok_s!)[0]
const bytes = (c: Cell): number | undefined => c.measured_bytes_per_seq ?? c.state_bytes_per_seq ?? c.kv_bytes_per_seq
await write(
  'decode-best.svg',
  models.map((model) => ({
    name: model,
    points: contexts.flatMap((context) => {
      const c = best(model, context)
      const b = c && bytes(c)
      return c ? [{x: context, y: c.decode_tok_s!, label: `b ${c.batch}${b ? `, ${Math.round(b / 2 ** 20)} MiB/seq` : ''}`}] : []
    }),
  })),
  `Decode at each model's best batch${suffix}`,
  'context (tokens)',
  'tokens/s',
)
