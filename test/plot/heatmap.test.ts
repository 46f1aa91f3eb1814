import {describe, expect, it} from 'vitest'
import {heatmapSvg} from '../../src/plot/heatmap.js'

describe('heatmapSvg', () => {
  it('writes each cell\'s mark after its value, and the legend under the column label', () => {
    const svg = heatmapSvg([[0.5, 0.25], [0, 1]], {title: 't', rowLabel: 'layer', columnLabel: 'head', marks: [['G', ''], ['', 'A']], legend: 'G: Gather head, A: Aggregate head'})
    const cells = [...svg.matchAll(/font-size="11" fill="\w+">([^<]+)<\/text>/g)].map((m) => m[1])
    expect(cells).toEqual(['0.50G', '0.25', '0.00', '1.00A'])
    expect(svg).toMatch(/>head<\/text>\n<text [^>]*>G: Gather head, A: Aggregate head<\/text>/)
  })

  it('writes values alone without marks', () => {
    const svg = heatmapSvg([[0.5]], {title: 't', rowLabel: 'layer', columnLabel: 'head'})
    expect(svg).toMatch(/>0\.50<\/text>/)
    expect(svg).not.toMatch(/Gather/)
  })
})
