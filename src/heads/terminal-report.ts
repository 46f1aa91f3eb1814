import {Chalk, type ChalkInstance} from 'chalk'
import type {FindHeadsResult, HeadScore} from './find-heads.js'
import {scoreId} from './find-heads.js'
import {AGGREGATE_THRESHOLD, GATHER_THRESHOLD, SSM_LABEL_RULE} from './head-labels.js'
import {isSelected} from './head-layout.js'
import {headColumns, labelGrid} from './heads-file.js'

const NO_COLOR = new Chalk({level: 0})

/**
 * The ranked table for stdout: the top `rows` heads by ablation, then any selected head ranked
 * below them (--selection aggregate picks by attention, not by ablation), selected rows in bold.
 * The attention columns are named for what they measure, so that the score --selection aggregate
 * ranks by (attention on the answer's line) is the one it visibly picks by.
 */
export function rankedTable(r: FindHeadsResult, rows: number, color: ChalkInstance = NO_COLOR): string {
  const hasSsm = r.heads.some((h) => h.kind === 'ssm')
  const header = ['rank', 'layer', 'head', ...(hasSsm ? ['kind'] : []), 'kv', 'acc', 'drop', 'logp drop', 'gather', 'agg: line', 'agg: end', 'label']
  const selected = (h: HeadScore) => isSelected(r.selected, scoreId(h))
  const shown = [...r.heads.slice(0, rows), ...r.heads.slice(rows).filter(selected)]
  const fixed = (x: number | null) => (x === null ? '-' : x.toFixed(2))
  const lines = shown.map((h) => [
    String(h.rank),
    String(h.layer),
    String(h.head),
    ...(hasSsm ? [h.kind] : []),
    h.kvHead === null ? '-' : String(h.kvHead),
    pct(h.acc),
    pct(h.drop),
    h.logprobDrop.toFixed(2),
    fixed(h.gather),
    fixed(h.answerSegment),
    fixed(h.aggregate),
    h.label ?? '-',
  ])
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((l) => l[i].length)))
  const format = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ')
  return [
    format(header),
    ...lines.map((cells, i) => (selected(shown[i]) ? color.bold(format(cells)) : format(cells))),
    '',
    'acc: the task\'s accuracy with the head alone ablated; drop: the baseline\'s minus that.',
    'gather: attention mass (0-1) of segment-final tokens on their own segment; agg: of the last prompt',
    'token on the answer\'s line (agg: line, what --selection aggregate ranks by) or its final token (agg: end).',
    `label: gather when gather >= ${GATHER_THRESHOLD}, aggregate when agg: end >= ${AGGREGATE_THRESHOLD} (Gather-and-Aggregate's head types).`,
    ...(hasSsm ? [`${SSM_LABEL_RULE}.`] : []),
  ].join('\n')
}

/**
 * Layers × heads, each cell the accuracy drop in percentage points, shaded red by its size when
 * colour is on; a Gather head's value is followed by G, an Aggregate head's by A, and selected
 * heads are marked with '*' either way.
 */
export function terminalHeatmap(r: FindHeadsResult, color: ChalkInstance = NO_COLOR): string {
  const columns = headColumns(r)
  const letters = labelGrid(r)
  const max = Math.max(1e-9, ...r.heads.map((h) => h.drop))
  const hasSsm = r.heads.some((h) => h.kind === 'ssm')
  const lines = [
    `accuracy drop with the head alone ablated, in percentage points (* selected; G Gather, A Aggregate${hasSsm ? '; S SSM head, columns: attention heads, then SSM heads' : ''}):`,
    `layer\\head ${Array.from({length: Math.max(...columns.map((c) => c.length))}, (_, h) => String(h).padStart(6)).join('')}`,
  ]
  columns.forEach((row, layer) => {
    const cells = row.map((h, column) => {
      const drop = h.drop
      const value = String(Math.round(drop * 100))
      const text = `${value}${letters[layer][column]}${isSelected(r.selected, scoreId(h)) ? '*' : ''}`.padEnd(value.length + 2).padStart(6)
      const t = Math.max(0, Math.min(1, drop / max))
      const level = Math.round(255 * (1 - t))
      return color.bgRgb(255, level, level).black(text)
    })
    lines.push(`${String(layer).padStart(10)} ${cells.join('')}`)
  })
  return lines.join('\n')
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`
