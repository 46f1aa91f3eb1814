/**
 * A small SVG bar chart: categories along x, a bar per series in each (grouped), each bar's value
 * (e.g. the mean over seeds) with its single measurements (each seed) marked on it as black dots, so
 * that a mean never hides how far its runs lie apart. Legend under the plot, as line-chart.ts does.
 */
import {CHAR_W, chartFrame, COLORS, esc, fmt, LEGEND_ROW, M, padRange, PLOT_H, ticks} from './svg-parts.js'

export interface BarSeries {
  name: string
  /** Per category: the bar's height (NaN or absent: no bar) and the measurements marked on it. */
  bars: ({value: number; marks?: number[]} | undefined)[]
}

export interface BarChartOptions {
  title: string
  yLabel: string
  /** Fixed y range, e.g. [0, 1] for accuracies; otherwise from 0 (or the least value) to the data's top. */
  yRange?: [number, number]
}

const BAR_W = 22
const GROUP_GAP = 28

export function barChartSvg(categories: string[], series: BarSeries[], opts: BarChartOptions): string {
  const values = series.flatMap((s) => s.bars.flatMap((b) => (b ? [b.value, ...(b.marks ?? [])] : []))).filter(Number.isFinite)
  const [y0, y1] = opts.yRange ?? padRange(Math.min(0, ...values), Math.max(...values))
  const groupW = series.length * BAR_W + GROUP_GAP
  const longest = Math.max(...[...series.map((s) => s.name), ...categories].map((n) => n.length))
  // Wide enough for the groups, the longest legend entry or category, and the title (15px: 1.25 characters of 12px).
  const W = Math.max(M.left + categories.length * groupW + M.right, Math.ceil(M.left + 40 + longest * CHAR_W + M.right), Math.ceil(opts.title.length * CHAR_W * 1.25) + 16, 360)
  const H = PLOT_H + series.length * LEGEND_ROW + 8
  const plotBottom = PLOT_H - M.bottom
  const py = (y: number) => plotBottom - ((Math.min(Math.max(y, y0), y1) - y0) / (y1 - y0)) * (plotBottom - M.top)
  const groupX = (c: number) => M.left + ((W - M.left - M.right) * (c + 0.5)) / categories.length
  const out = chartFrame(W, H, opts.title, M, ticks(y0, y1), py)
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${plotBottom}" y2="${plotBottom}" stroke="black"/>`)
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${plotBottom}" stroke="black"/>`)
  out.push(`<text transform="translate(16 ${(M.top + plotBottom) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`)
  categories.forEach((category, c) => {
    out.push(`<text x="${groupX(c)}" y="${plotBottom + 16}" text-anchor="middle">${esc(category)}</text>`)
    series.forEach((s, i) => {
      const bar = s.bars[c]
      if (!bar || !Number.isFinite(bar.value)) return
      const x = groupX(c) + (i - series.length / 2) * BAR_W
      const base = py(Math.max(y0, 0))
      const top = py(bar.value)
      out.push(`<rect x="${x + 1}" y="${Math.min(top, base)}" width="${BAR_W - 2}" height="${Math.abs(base - top)}" fill="${COLORS[i % COLORS.length]}"/>`)
      for (const m of (bar.marks ?? []).filter(Number.isFinite)) out.push(`<circle cx="${x + BAR_W / 2}" cy="${py(m)}" r="3" fill="black" stroke="white" stroke-width="1"/>`)
    })
  })
  series.forEach((s, i) => {
    const y = PLOT_H + 4 + i * LEGEND_ROW + LEGEND_ROW / 2
    out.push(`<rect x="${M.left}" y="${y - 6}" width="28" height="12" fill="${COLORS[i % COLORS.length]}"/>`)
    out.push(`<text x="${M.left + 36}" y="${y + 4}">${esc(s.name)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}
