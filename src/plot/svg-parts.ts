/** What the SVG charts (line-chart.ts, bar-chart.ts) share: colours, axis ticks, number labels, text escaping. */
export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf']

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
