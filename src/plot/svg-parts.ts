/** What the SVG charts (line-chart.ts, bar-chart.ts) share: colours, axis ticks, number labels, text escaping. */
export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf']

/** The charts' layout: plot height, margins around the plot, and a legend row's height below it. */
export const PLOT_H = 400
export const M = {left: 64, right: 24, top: 40, bottom: 52}
export const LEGEND_ROW = 20

/** Width of a character of the 12px sans-serif text, generously (digits and most letters are narrower). */
export const CHAR_W = 7.2

export function padRange(lo: number, hi: number): [number, number] {
  if (lo === hi) return [lo - 1, hi + 1]
  const pad = (hi - lo) * 0.05
  return [lo - pad, hi + pad]
}

/** Round tick values between lo and hi, at most about six. */
export function ticks(lo: number, hi: number): number[] {
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 4))
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= 6) ?? step * 10
  const out: number[] = []
  for (let t = Math.ceil(lo / nice) * nice; t <= hi + 1e-12; t += nice) out.push(Number(t.toPrecision(12)))
  return out
}

export function fmt(v: number): string {
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toPrecision(3)}M`
  if (Math.abs(v) >= 1e3) return `${(v / 1e3).toPrecision(3)}k`
  return String(Number(v.toPrecision(3)))
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/**
 * The opening of a chart of W x H: the svg element, a white background, the title centred over the plot
 * between `left` and W - `right`, and a grey grid line with its label at each y tick (`py` maps a value to y).
 */
export function chartFrame(W: number, H: number, title: string, margins: {left: number; right: number}, yTicks: number[], py: (y: number) => number): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(margins.left + W - margins.right) / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ]
  for (const t of yTicks) {
    out.push(`<line x1="${margins.left}" x2="${W - margins.right}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`)
    out.push(`<text x="${margins.left - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`)
  }
  return out
}
