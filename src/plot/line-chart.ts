/**
 * A small SVG line chart: several series over one x axis, with axes, ticks, a legend and an
 * optional chance line. Written here rather than taken from a charting library because those draw
 * through a DOM or a native canvas; an SVG string needs neither, and every browser and image
 * viewer opens it.
 *
 * Series that coincide (a student that matches its teacher) must stay visible: each series has its
 * own colour, dash pattern and marker shape, and later series are drawn thinner and with smaller
 * markers on top of earlier ones, so a line under an identical one still shows at its edges and
 * through the gaps of the dashes; on a sweep's few x values each series is also moved a few pixels
 * aside. The legend sits under the plot and the image grows to fit it,
 * so long model names are never cut off.
 */
import {CHAR_W, chartFrame, COLORS, esc, fmt, LEGEND_ROW, M, padRange, PLOT_H, ticks} from './svg-parts.js'

export interface Series {
  name: string
  /** A point's label (e.g. the memory it costs) is written beside its marker. */
  points: {x: number; y: number; label?: string}[]
}

export interface ChartOptions {
  title: string
  xLabel: string
  yLabel: string
  /** Fixed y range, e.g. [0, 1] for accuracies; otherwise from the data. */
  yRange?: [number, number]
  logX?: boolean
  /** What guessing scores (e.g. 1 / candidates at each x), drawn as a grey dashed line. */
  chance?: {x: number; y: number}[]
}

const DASHES = ['', '7 4', '2 3', '9 3 2 3']
const MARKERS = ['circle', 'square', 'triangle', 'diamond'] as const
const CHANCE_COLOR = '#888888'
const PLOT_W = 640
const DODGE = 3
const MAX_MARKED_POINTS = 50

export function lineChartSvg(series: Series[], opts: ChartOptions): string {
  const chance = opts.chance?.filter((p) => Number.isFinite(p.y))
  const xs = series.flatMap((s) => s.points.map((p) => p.x))
  const ys = [...series.flatMap((s) => s.points.map((p) => p.y)), ...(chance ?? []).map((p) => p.y)].filter(Number.isFinite)
  const fx = opts.logX ? Math.log10 : (v: number) => v
  const [x0, x1] = padRange(Math.min(...xs.map(fx)), Math.max(...xs.map(fx)))
  const [y0, y1] = opts.yRange ?? padRange(Math.min(...ys), Math.max(...ys))
  // Long curves (training losses) are drawn without markers, in the legend too.
  const marked = (s: Series) => s.points.length <= MAX_MARKED_POINTS
  const legend = [
    ...series.map((s, i) => ({name: s.name, style: marked(s) ? styleOf(i) : {...styleOf(i), marker: undefined}})),
    ...(chance?.length ? [{name: 'chance', style: CHANCE_STYLE}] : []),
  ]
  const W = Math.max(PLOT_W, Math.ceil(M.left + 40 + Math.max(...legend.map((e) => e.name.length)) * CHAR_W + M.right))
  const H = PLOT_H + legend.length * LEGEND_ROW + 8
  const plotBottom = PLOT_H - M.bottom
  const px = (x: number) => M.left + ((fx(x) - x0) / (x1 - x0)) * (W - M.left - M.right)
  const py = (y: number) => plotBottom - ((y - y0) / (y1 - y0)) * (plotBottom - M.top)
  const out = chartFrame(W, H, opts.title, M, ticks(y0, y1), py)
  // Few x values (a sweep) are labelled each; many (a training curve) get round ticks.
  const distinctX = [...new Set(xs)].sort((a, b) => a - b)
  const xTicks = distinctX.length <= 12 || opts.logX ? distinctX : ticks(x0, x1)
  // A label that would overlap the one before it (close values, as on a log axis) is left out.
  let labelEnd = -Infinity
  for (const x of xTicks) {
    const half = (fmt(x).length * CHAR_W) / 2
    if (px(x) - half < labelEnd) continue
    out.push(`<text x="${px(x)}" y="${plotBottom + 16}" text-anchor="middle">${fmt(x)}</text>`)
    labelEnd = px(x) + half + 4
  }
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${plotBottom}" y2="${plotBottom}" stroke="black"/>`)
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${plotBottom}" stroke="black"/>`)
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${PLOT_H - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>`)
  out.push(`<text transform="translate(16 ${(M.top + plotBottom) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`)
  if (chance?.length) out.push(polyline(chance.sort((a, b) => a.x - b.x).map((p) => [px(p.x), py(p.y)]), CHANCE_STYLE))
  // A sweep's few x values are dodged: each series a few pixels aside, so equal values stand side by side.
  const dodge = distinctX.length <= 12 ? DODGE : 0
  series.forEach((s, i) => {
    const style = styleOf(i)
    const dx = (i - (series.length - 1) / 2) * dodge
    const pts = s.points.filter((p) => Number.isFinite(p.y)).sort((a, b) => a.x - b.x)
    out.push(polyline(pts.map((p) => [px(p.x) + dx, py(p.y)]), style))
    if (marked(s)) for (const p of pts) out.push(marker(px(p.x) + dx, py(p.y), style))
    // Slanted, so that the labels of neighbouring points do not run into each other.
    for (const p of pts.filter((p) => p.label)) {
      const [lx, ly] = [px(p.x) + dx + 8, py(p.y) - 8]
      out.push(`<text x="${lx}" y="${ly}" transform="rotate(-35 ${lx} ${ly})" font-size="10" fill="${style.color}">${esc(p.label!)}</text>`)
    }
  })
  legend.forEach((entry, i) => {
    const y = PLOT_H + 4 + i * LEGEND_ROW + LEGEND_ROW / 2
    out.push(polyline([[M.left, y], [M.left + 28, y]], entry.style))
    if (entry.style.marker) out.push(marker(M.left + 14, y, entry.style))
    out.push(`<text x="${M.left + 36}" y="${y + 4}">${esc(entry.name)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

interface Style {
  color: string
  dash: string
  width: number
  marker?: (typeof MARKERS)[number]
  size: number
}

const CHANCE_STYLE: Style = {color: CHANCE_COLOR, dash: '4 4', width: 1.5, size: 0}

/** Series i: its colour, dash and marker; thinner and smaller the later it is drawn. */
function styleOf(i: number): Style {
  const shrink = Math.min(i, 3)
  return {color: COLORS[i % COLORS.length], dash: DASHES[i % DASHES.length], width: 4 - shrink, marker: MARKERS[i % MARKERS.length], size: 6.5 - 1.5 * shrink}
}

function polyline(points: [number, number][], s: Style): string {
  const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : ''
  return `<polyline fill="none" stroke="${s.color}" stroke-width="${s.width}"${dash} stroke-linejoin="round" points="${points.map(([x, y]) => `${x},${y}`).join(' ')}"/>`
}

function marker(x: number, y: number, s: Style): string {
  const r = s.size
  const fill = `fill="${s.color}" stroke="white" stroke-width="1"`
  switch (s.marker) {
    case 'square': return `<rect x="${x - r}" y="${y - r}" width="${2 * r}" height="${2 * r}" ${fill}/>`
    case 'triangle': return `<polygon points="${x},${y - r * 1.2} ${x + r * 1.1},${y + r * 0.8} ${x - r * 1.1},${y + r * 0.8}" ${fill}/>`
    case 'diamond': return `<polygon points="${x},${y - r * 1.3} ${x + r},${y} ${x},${y + r * 1.3} ${x - r},${y}" ${fill}/>`
    default: return `<circle cx="${x}" cy="${y}" r="${r}" ${fill}/>`
  }
}
