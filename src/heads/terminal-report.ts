import chalk from 'chalk'
import type {FindHeadsResult} from './find-heads.js'
import {isSelected} from './ablation-runner.js'
import {dropGrid} from './heads-file.js'

/** The ranked table of the top `rows` heads, as text for stdout. */
export function rankedTable(r: FindHeadsResult, rows: number): string {
  const header = ['rank', 'layer', 'head', 'kv', 'acc', 'drop', 'logp drop', 'gather', 'aggregate', 'answer seg']
  const lines = r.heads.slice(0, rows).map((h) => [
    String(h.rank),
    String(h.layer),
    String(h.head),
    String(h.kvHead),
    pct(h.acc),
    pct(h.drop),
    h.logprobDrop.toFixed(2),
    h.gather.toFixed(2),
    h.aggregate.toFixed(2),
    h.answerSegment.toFixed(2),
  ])
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((l) => l[i].length)))
  const format = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ')
  return [format(header), ...lines.map((cells, i) => (isSelected(r.selected, r.heads[i].layer, r.heads[i].head) ? chalk.bold(format(cells)) : format(cells)))].join('\n')
}

/**
 * Layers × heads, each cell the accuracy drop in percent, shaded red by its size when colour is
 * on (chalk is off under NO_COLOR); selected heads are marked with '*' either way.
 */
export function terminalHeatmap(r: FindHeadsResult): string {
  const grid = dropGrid(r)
  const max = Math.max(1e-9, ...grid.flat())
  const heads = grid[0].length
  const lines = [`layer\\head ${Array.from({length: heads}, (_, h) => String(h).padStart(5)).join('')}`]
  grid.forEach((row, layer) => {
    const cells = row.map((drop, head) => {
      const text = `${Math.round(drop * 100)}${isSelected(r.selected, layer, head) ? '*' : ' '}`.padStart(5)
      const t = Math.max(0, Math.min(1, drop / max))
      const level = Math.round(255 * (1 - t))
      return chalk.bgRgb(255, level, level).black(text)
    })
    lines.push(`${String(layer).padStart(10)} ${cells.join('')}`)
  })
  return lines.join('\n')
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`
