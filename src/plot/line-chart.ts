/**
 * A small SVG line chart: several series over one x axis, with axes, ticks, and a legend.
 * Written here rather than taken from a charting library because those draw through a DOM or a
 * native canvas; an SVG string needs neither, and every browser and image viewer opens it.
 */
export interface Series {
  name: string
  points: {x: number; y: number}[]
}

export interface ChartOptions {
  title: string
  xLabel: string
  yLabel: string
  /** Fixed y range, e.g. [0, 1] for accuracies; otherwise from the data. */
  yRange?: [number, number]
  logX?: boolean
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf']
const W = 640
const H = 400
const M = {left: 64, right: 160, top: 40, bottom: 52}

export function lineChartSvg(series: Series[], opts: ChartOptions): string {
  const xs = series.flatMap((s) => s.points.map((p) => p.x))
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter(Number.isFinite)
  const fx = opts.logX ? Math.log10 : (v: number) => v
  const [x0, x1] = padRange(Math.min(...xs.map(fx)), Math.max(...xs.map(fx)))
  const [y0, y1] = opts.yRange ?? padRange(Math.min(...ys), Math.max(...ys))
  const px = (x: number) => M.left + ((fx(x) - x0) / (x1 - x0)) * (W - M.left - M.right)
  const py = (y: number) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom)
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${W / 2 - M.right / 2 + M.left / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`)
  for (const t of ticks(y0, y1)) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`)
    out.push(`<text x="${M.left - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`)
  }
  // Few x values (a sweep) are labelled each; many (a training curve) get round ticks.
  const distinctX = [...new Set(xs)].sort((a, b) => a - b)
  const xTicks = distinctX.length <= 12 || opts.logX ? distinctX : ticks(x0, x1)
  for (const x of xTicks) {
    out.push(`<text x="${px(x)}" y="${H - M.bottom + 16}" text-anchor="middle">${fmt(x)}</text>`)
  }
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="black"/>`)
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="black"/>`)
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>`)
  out.push(`<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`)
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]
    const pts = s.points.filter((p) => Number.isFinite(p.y)).sort((a, b) => a.x - b.x)
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${px(p.x)},${py(p.y)}`).join(' ')}"/>`)
    if (pts.length <= 50) for (const p of pts) out.push(`<circle cx="${px(p.x)}" cy="${py(p.y)}" r="3" fill="${color}"/>`)
    const ly = M.top + 10 + i * 18
    out.push(`<line x1="${W - M.right + 12}" x2="${W - M.right + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`)
    out.push(`<text x="${W - M.right + 38}" y="${ly + 4}">${esc(s.name)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

function padRange(lo: number, hi: number): [number, number] {
  if (lo === hi) return [lo - 1, hi + 1]
  const pad = (hi - lo) * 0.05
  return [lo - pad, hi + pad]
}

function ticks(lo: number, hi: number): number[] {
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 4))
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= 6) ?? step * 10
  const out: number[] = []
  for (let t = Math.ceil(lo / nice) * nice; t <= hi + 1e-12; t += nice) out.push(Number(t.toPrecision(12)))
  return out
}

function fmt(v: number): string {
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toPrecision(3)}M`
  if (Math.abs(v) >= 1e3) return `${(v / 1e3).toPrecision(3)}k`
  return String(Number(v.toPrecision(3)))
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
