import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {writeCharts} from '../../src/eval/report.js'
import type {TaskResult} from '../../src/eval/tasks/types.js'
import {lineChartSvg} from '../../src/plot/line-chart.js'

const XS = [10, 20, 30, 40, 50]
const teacher = XS.map((x, i) => ({x, y: [0.96, 0.84, 0.7, 0.6, 0.5][i]}))
const SERIES = [
  {name: 'fixtures/phi-tiny', points: teacher},
  {name: 'runs/phi-tiny/hybrid', points: XS.map((x) => ({x, y: 0.05}))},
  // A student that matches its teacher exactly: its line lies on the teacher's.
  {name: 'runs/phi-tiny/distill/student-with-a-long-name', points: teacher},
]

function attrs(tag: string): Record<string, string> {
  return Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
}

/** The plotted lines: polylines with more than two points (legend samples have two). */
function lines(svg: string): Record<string, string>[] {
  return [...svg.matchAll(/<polyline [^>]*>/g)].map((m) => attrs(m[0])).filter((a) => a.points.split(' ').length > 2)
}

describe('eval line charts (issue 18.10)', () => {
  const svg = lineChartSvg(SERIES, {title: 'kv-retrieval: acc vs pairs', xLabel: 'pairs', yLabel: 'acc', yRange: [0, 1], chance: XS.map((x) => ({x, y: 1 / x}))})
  const width = Number(attrs(svg.slice(0, svg.indexOf('>'))).width)
  const height = Number(attrs(svg.slice(0, svg.indexOf('>'))).height)

  it('keeps every legend entry inside the image, however long the model name', () => {
    for (const name of [...SERIES.map((s) => s.name), 'chance']) {
      const tag = [...svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)].find((m) => m[2] === name)
      expect(tag, name).toBeDefined()
      const {x, y} = attrs(tag![1])
      // 7.2 px a character is wider than 12px sans-serif's average.
      expect(Number(x) + name.length * 7.2, name).toBeLessThanOrEqual(width)
      expect(Number(y)).toBeLessThanOrEqual(height)
    }
  })

  it('tells coinciding lines apart: colour, dash and marker differ, and a later line is thinner than the one it covers', () => {
    const plotted = lines(svg).filter((l) => l.stroke !== '#888888')
    expect(plotted).toHaveLength(3)
    const looks = plotted.map((l) => `${l.stroke} ${l['stroke-dasharray'] ?? 'solid'}`)
    expect(new Set(looks).size).toBe(3)
    expect(new Set(plotted.map((l) => l['stroke-dasharray'] ?? 'solid')).size).toBe(3)
    expect(Number(plotted[2]['stroke-width'])).toBeLessThan(Number(plotted[0]['stroke-width']))
    // Markers: the teacher's circles and the student's triangles at the same points.
    expect(svg.match(/<circle /g)!.length).toBeGreaterThanOrEqual(XS.length)
    expect(svg.match(/<polygon /g)!.length).toBeGreaterThanOrEqual(XS.length)
  })

  it('writes a point\'s label beside its marker, in its series\' colour', () => {
    const labelled = lineChartSvg([{name: 'heads kept', points: [{x: 0, y: 0.1, label: '24 KiB'}, {x: 2, y: 0.9, label: '536 KiB'}]}], {title: 't', xLabel: 'x', yLabel: 'y', yRange: [0, 1]})
    const labels = [...labelled.matchAll(/<text ([^>]*)>([^<]*KiB)<\/text>/g)].map((m): Record<string, string> => ({...attrs(m[1]), text: m[2]}))
    expect(labels.map((l) => l.text)).toEqual(['24 KiB', '536 KiB'])
    const circles = [...labelled.matchAll(/<circle [^>]*>/g)].map((m) => attrs(m[0])).slice(0, 2)
    labels.forEach((l, i) => {
      expect(Number(l.x) - Number(circles[i].cx)).toBeCloseTo(8, 5)
      expect(Number(circles[i].cy) - Number(l.y)).toBeCloseTo(8, 5)
      expect(l.fill).toBe(circles[i].fill)
      expect(l.transform).toBe(`rotate(-35 ${l.x} ${l.y})`)
    })
  })

  it('leaves out an x label that would overlap the one before it (close values on a log axis)', () => {
    const svg = lineChartSvg([{name: 'memory', points: [{x: 2000, y: 0.1}, {x: 2010, y: 0.2}, {x: 100000, y: 0.3}]}], {title: 't', xLabel: 'x', yLabel: 'y', yRange: [0, 1], logX: true})
    const labels = [...svg.matchAll(/<text [^>]*>([^<]*)<\/text>/g)].map((m) => m[1])
    expect(labels).toContain('2.00k')
    expect(labels).not.toContain('2.01k')
    expect(labels).toContain('100k')
  })

  it('draws the chance line, and writeCharts passes a task\'s chance to it', async () => {
    const chance = lines(svg).filter((l) => l.stroke === '#888888')
    expect(chance).toHaveLength(1)
    expect(chance[0]['stroke-dasharray']).toBeTruthy()
    const root = await mkdtemp(join(tmpdir(), 'hybridize-chart-'))
    try {
      const result = (y: number): TaskResult => ({
        task: 'kv-retrieval', metrics: {}, counts: {original: 1, effective: 1},
        config: {task: 'kv-retrieval', output_type: 'multiple_choice', num_fewshot: 0, metric_list: [], metadata: {version: 1}},
        curves: [{x: 'pairs', y: 'acc', points: XS.map((x) => ({x, y})), chance: XS.map((x) => ({x, y: 1 / x}))}],
      })
      const [file] = await writeCharts(root, [{model: 'teacher', results: [result(0.9)]}, {model: 'student', results: [result(0.1)]}])
      const written = await readFile(file, 'utf8')
      expect(written).toContain('>chance</text>')
      expect(lines(written).filter((l) => l.stroke === '#888888')).toHaveLength(1)
    } finally {
      await rm(root, {recursive: true, force: true})
    }
  })
})
