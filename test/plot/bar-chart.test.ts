import {describe, expect, it} from 'vitest'
import {barChartSvg} from '../../src/plot/bar-chart.js'

function attrs(tag: string): Record<string, string> {
  return Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
}

/** The plotted bars: rects of a series colour that are not legend swatches (those are 28 wide). */
const bars = (svg: string) => [...svg.matchAll(/<rect [^>]*>/g)].map((m) => attrs(m[0])).filter((a) => a.fill !== 'white' && a.width !== '28')

describe('bar chart (per mixer, per selection)', () => {
  const categories = ['discrete-mamba2', 'mamba2', 'mamba3 MIMO rank 2 (a long category)']
  const svg = barChartSvg(categories, [
    {name: 'exact match', bars: [{value: 0.5, marks: [0.4, 0.6]}, {value: 1, marks: [1, 1]}, undefined]},
    {name: 'acc', bars: [{value: 0.25, marks: [0.2, 0.3]}, {value: 0, marks: [0, 0]}, {value: 0.75}]},
  ], {title: 'retrieval by mixer', yLabel: 'held-out keys', yRange: [0, 1]})
  const root = attrs(svg.slice(0, svg.indexOf('>')))

  it('draws one bar per value, as tall as its value, and none where a value is missing', () => {
    const drawn = bars(svg)
    expect(drawn).toHaveLength(5)
    const height = (i: number) => Number(drawn[i].height)
    // Order: category by category, series within; 0.5 is half of 1.0, 0.25 a quarter, 0 nothing.
    const [half, quarter, full, zero, threeQuarters] = [0, 1, 2, 3, 4].map(height)
    expect(half / full).toBeCloseTo(0.5, 5)
    expect(quarter / full).toBeCloseTo(0.25, 5)
    expect(threeQuarters / full).toBeCloseTo(0.75, 5)
    expect(zero).toBe(0)
    // All bars stand on one base line.
    const base = Number(drawn[0].y) + half
    for (const b of drawn) expect(Number(b.y) + Number(b.height)).toBeCloseTo(base, 5)
  })

  it('marks each measurement on its bar: a dot per seed at its own height', () => {
    const dots = [...svg.matchAll(/<circle [^>]*>/g)].map((m) => attrs(m[0]))
    expect(dots).toHaveLength(8)
    const drawn = bars(svg)
    // The first bar (0.5) has its seeds at 0.4 and 0.6: one below its top, one above, both over the bar.
    const top = Number(drawn[0].y)
    const [a, b] = dots.slice(0, 2).map((d) => Number(d.cy))
    expect(Math.min(a, b)).toBeLessThan(top)
    expect(Math.max(a, b)).toBeGreaterThan(top)
    expect(Number(dots[0].cx)).toBeCloseTo(Number(drawn[0].x) - 1 + 22 / 2, 5)
  })

  it('keeps category labels and the legend inside the image', () => {
    for (const name of [...categories, 'exact match', 'acc']) {
      const tag = [...svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)].find((m) => m[2] === name)
      expect(tag, name).toBeDefined()
      expect(Number(attrs(tag![1]).y)).toBeLessThanOrEqual(Number(root.height))
      expect(Number(attrs(tag![1]).x)).toBeLessThanOrEqual(Number(root.width))
    }
  })
})
