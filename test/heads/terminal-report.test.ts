import {Chalk} from 'chalk'
import {describe, expect, it} from 'vitest'
import type {FindHeadsResult, HeadScore} from '../../src/heads/find-heads.js'
import {rankedTable, terminalHeatmap} from '../../src/heads/terminal-report.js'

/** 2 layers x 8 heads ranked by drop; the two "lookup" heads attend to the answer's line but cost little ablated alone. */
function result(selected: [number, number][]): FindHeadsResult {
  const heads: HeadScore[] = Array.from({length: 16}, (_, i) => {
    const layer = Math.floor(i / 8)
    const head = i % 8
    const lookup = layer === 1 && head >= 6
    return {layer, head, kind: 'attention' as const, kvHead: head >> 1, rank: 0, acc: 0.8 - (lookup ? 0 : 0.01 * (16 - i)), drop: lookup ? 0 : 0.01 * (16 - i), logprobDrop: 0, gather: 0.1, aggregate: 0, answerSegment: lookup ? 0.9 : 0.05, label: layer === 0 && head === 0 ? 'gather' as const : lookup ? 'aggregate' as const : null}
  }).sort((a, b) => b.drop - a.drop)
  heads.forEach((h, i) => (h.rank = i + 1))
  const figures = {acc: 0.8, argmaxAcc: 0.8, exactAcc: 1, answerLogprob: -1}
  return {baseline: figures, heads, selected, selectedAblated: figures, randomAblated: [], chance: 0.05, ablationPass: {rows: 17, tokens: 1088, seconds: 0.5}}
}

describe('find-heads terminal report', () => {
  it('shows the heads --selection aggregate picked, under the score it picks by', () => {
    const table = rankedTable(result([[1, 7], [1, 6]]), 10).split('\n')
    expect(table[0]).toMatch(/gather +agg: line +agg: end +label$/)
    // Ranked 15th and 16th by ablation, below the top 10, yet listed, with their 0.90 on the answer's line.
    const rows = table.filter((l) => /^ +1[56] +1 +[67] /.test(l))
    expect(rows).toHaveLength(2)
    for (const row of rows) expect(row).toMatch(/0\.10 +0\.90 +0\.00 +aggregate$/)
    expect(table.join('\n')).toMatch(/\(agg: line, what --selection aggregate ranks by\)/)
  })

  it('says the heatmap\'s unit', () => {
    const map = terminalHeatmap(result([[0, 0]]))
    expect(map.split('\n')[0]).toBe('accuracy drop with the head alone ablated, in percentage points (* selected; G Gather, A Aggregate):')
    // Head 0.0: a 16-point drop, a Gather head, selected; 0.1 unlabelled; 1.6 and 1.7 Aggregate heads.
    expect(map).toMatch(/^ +0 +16G\* +15   /m)
    expect(map).toMatch(/ 0A +0A $/m)
  })

  it('colours only with the colour it is given (stdout\'s, decided from stdout)', () => {
    const r = result([[0, 0]])
    expect(rankedTable(r, 10) + terminalHeatmap(r)).not.toMatch(/\x1b\[/)
    const colour = new Chalk({level: 3})
    expect(rankedTable(r, 10, colour)).toMatch(/\x1b\[1m/)
    expect(terminalHeatmap(r, colour)).toMatch(/\x1b\[48;2;255;/)
  })
})
