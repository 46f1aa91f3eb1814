/**
 * A small SVG heatmap: a grid of values (rows × columns), each cell shaded from white (0) to the
 * colour at `max`, its value written inside, chosen cells outlined, and a colour scale beside.
 * Negative values (an ablation that helped) shade blue.
 */
export interface HeatmapOptions {
  title: string
  rowLabel: string
  columnLabel: string
  /** The value drawn at full colour (default: the largest |value|). */
  max?: number
  /** Cells to outline, as [row, column]. */
  outlined?: readonly (readonly [number, number])[]
  /** Text of each cell's value (default: two decimals). */
  format?: (v: number) => string
  /** A short mark after each cell's value, as [row][column] (find-heads: G or A). */
  marks?: readonly (readonly string[])[]
  /** What the marks mean: a line under the column label. */
  legend?: string
}

const CELL = 44
const M = {left: 64, right: 96, top: 48, bottom: 52}
const LEGEND_LINE = 18

export function heatmapSvg(values: readonly (readonly number[])[], opts: HeatmapOptions): string {
  const rows = values.length
  const cols = Math.max(...values.map((r) => r.length))
  const max = opts.max ?? Math.max(1e-9, ...values.flat().map(Math.abs))
  const format = opts.format ?? ((v: number) => v.toFixed(2))
  const W = M.left + cols * CELL + M.right
  const H = M.top + rows * CELL + M.bottom + (opts.legend ? LEGEND_LINE : 0)
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${M.left + (cols * CELL) / 2}" y="24" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`)
  values.forEach((row, r) => {
    const y = M.top + r * CELL
    out.push(`<text x="${M.left - 8}" y="${y + CELL / 2 + 4}" text-anchor="end">${r}</text>`)
    row.forEach((v, c) => {
      const x = M.left + c * CELL
      const t = Math.min(1, Math.abs(v) / max)
      out.push(`<rect x="${x}" y="${y}" width="${CELL}" height="${CELL}" fill="${shade(v < 0 ? -t : t)}" stroke="#ddd"/>`)
      out.push(`<text x="${x + CELL / 2}" y="${y + CELL / 2 + 4}" text-anchor="middle" font-size="11" fill="${t > 0.6 ? 'white' : 'black'}">${esc(format(v) + (opts.marks?.[r]?.[c] ?? ''))}</text>`)
    })
  })
  for (const [r, c] of opts.outlined ?? []) {
    out.push(`<rect x="${M.left + c * CELL + 1.5}" y="${M.top + r * CELL + 1.5}" width="${CELL - 3}" height="${CELL - 3}" fill="none" stroke="black" stroke-width="3"/>`)
  }
  for (let c = 0; c < cols; c++) out.push(`<text x="${M.left + c * CELL + CELL / 2}" y="${M.top + rows * CELL + 16}" text-anchor="middle">${c}</text>`)
  const columnLabelY = M.top + rows * CELL + M.bottom - 12
  out.push(`<text x="${M.left + (cols * CELL) / 2}" y="${columnLabelY}" text-anchor="middle">${esc(opts.columnLabel)}</text>`)
  if (opts.legend) out.push(`<text x="${M.left + (cols * CELL) / 2}" y="${columnLabelY + LEGEND_LINE}" text-anchor="middle" font-size="11">${esc(opts.legend)}</text>`)
  out.push(`<text transform="translate(18 ${M.top + (rows * CELL) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.rowLabel)}</text>`)
  // Colour scale: 0 at the bottom, max at the top.
  const sx = M.left + cols * CELL + 24
  const steps = 20
  const sh = (rows * CELL) / steps
  for (let i = 0; i < steps; i++) out.push(`<rect x="${sx}" y="${M.top + i * sh}" width="16" height="${sh + 0.5}" fill="${shade(1 - i / (steps - 1))}"/>`)
  out.push(`<text x="${sx + 22}" y="${M.top + 10}">${esc(format(max))}</text>`)
  out.push(`<text x="${sx + 22}" y="${M.top + rows * CELL}">${esc(format(0))}</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** t in [-1, 1]: white at 0, red towards 1, blue towards -1. */
function shade(t: number): string {
  const a = Math.abs(t)
  const [r, g, b] = t >= 0 ? [214, 39, 40] : [31, 119, 180]
  const mix = (full: number) => Math.round(255 + (full - 255) * a)
  return `rgb(${mix(r)},${mix(g)},${mix(b)})`
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
