import {readFile} from 'node:fs/promises'
import {HybridizeError} from '../errors.js'
import type {ModelIdentity} from '../hub/model-identity.js'
import {writeFileAtomic} from '../io/atomic.js'
import {heatmapSvg} from '../plot/heatmap.js'
import {labelLetter, LABEL_RULE} from './head-labels.js'
import {HEADS_FORMAT, type HeadsFileJson} from './heads-schema.js'
import type {AccuracyFigures, FindHeadsOptions, FindHeadsResult} from './find-heads.js'

/**
 * heads.json: everything needed to reuse or reproduce a head search. Head ids are [layer, head]
 * pairs; `scores` repeats each head's accuracy drop keyed "L-H", the layout of Retrieval_Head's
 * head_score files, for drop-in comparison. The scoring method is recorded, since different head
 * scores select different heads. Its schema, the one the reader checks: src/heads/heads-schema.ts.
 */

export function headsJson(model: ModelIdentity, opts: FindHeadsOptions, r: FindHeadsResult, architecture: {layers: number; heads: number; kvHeads: number}): HeadsFileJson {
  const figures = (f: AccuracyFigures) => ({acc: f.acc, argmax_acc: f.argmaxAcc, exact_acc: f.exactAcc, answer_logprob: round(f.answerLogprob)})
  const randomMean = r.randomAblated.length > 0 ? r.randomAblated.reduce((a, d) => a + d.acc, 0) / r.randomAblated.length : null
  return {
    format: HEADS_FORMAT,
    model: {id: model.id, revision: model.revision, weights_sha256: model.weightsSha256, layers: architecture.layers, heads: architecture.heads, kv_heads: architecture.kvHeads},
    task: {name: opts.task, ...(opts.task === 'kv-retrieval' ? {pairs: opts.pairs} : {}), samples: opts.samples, seed: opts.seed},
    method: {
      score: 'accuracy drop when the head alone is ablated (log-likelihood over the candidate answers, lm-evaluation-harness acc); ties broken by the drop in the answer log-likelihood',
      ablation: opts.ablation === 'zero' ? 'zero: the head output (its slice before the output projection) set to 0' : 'mean: the head output replaced by its mean over the prompt tokens',
      select: {...('topK' in opts.select ? {top_k: opts.select.topK} : {budget: opts.select.fraction}), selection: opts.selection},
      patterns: 'gather: mass from each segment-final token to its own segment; aggregate: mass from the last prompt token to the answer segment\'s final token; answer_segment: to any token of the answer segment',
      labels: LABEL_RULE,
    },
    baseline: figures(r.baseline),
    chance: round(r.chance),
    selected: r.selected.map(([layer, head]) => [layer, head]),
    selected_ablated: figures(r.selectedAblated),
    ...(r.greedyCurve ? {greedy_curve: r.greedyCurve.map((f, i) => ({heads: i + 1, ...figures(f)}))} : {}),
    random_ablated: {mean_acc: randomMean, draws: r.randomAblated},
    heads: r.heads.map((h) => ({
      rank: h.rank,
      layer: h.layer,
      head: h.head,
      kv_head: h.kvHead,
      acc: h.acc,
      drop: round(h.drop),
      logprob_drop: round(h.logprobDrop),
      gather: round(h.gather),
      aggregate: round(h.aggregate),
      answer_segment: round(h.answerSegment),
      label: h.label,
    })),
    scores: Object.fromEntries(r.heads.map((h) => [`${h.layer}-${h.head}`, round(h.drop)])),
  }
}

const svgBeside = (out: string): string => out.replace(/\.json$/i, '') + '.svg'

/**
 * Refuses, before any work, to replace files hybridize did not write: `out` may be replaced when it
 * is a heads.json (its `format` says so), and the .svg beside it along with it; anything else
 * only with `force`.
 */
export async function checkHeadsDestination(out: string, force: boolean): Promise<void> {
  if (force) return
  const text = await readFile(out, 'utf8').catch(() => undefined)
  const ours = text !== undefined && (() => {
    try {
      return (JSON.parse(text) as {format?: unknown}).format === HEADS_FORMAT
    } catch {
      return false
    }
  })()
  if (text !== undefined && !ours) throw new HybridizeError(`${out} exists and is not a heads.json hybridize wrote; choose another --out, or pass --force to replace it`, {code: 'E_EXISTS'})
  const svg = svgBeside(out)
  if (!ours && (await readFile(svg).then(() => true, () => false))) {
    throw new HybridizeError(`${svg} exists without the heads.json it would be the heatmap of; choose another --out, or pass --force to replace it`, {code: 'E_EXISTS'})
  }
}

/** heads.json at `out`, and the heatmap of accuracy drops beside it (same name, .svg). */
export async function writeHeadsFiles(out: string, json: HeadsFileJson, r: FindHeadsResult, title: string): Promise<{json: string; svg: string}> {
  const svg = svgBeside(out)
  await writeFileAtomic(out, `${JSON.stringify(json, null, 2)}\n`)
  await writeFileAtomic(svg, heatmapSvg(dropGrid(r), {title, rowLabel: 'layer', columnLabel: 'head', outlined: r.selected, marks: labelGrid(r), legend: 'G: Gather head, A: Aggregate head'}))
  return {json: out, svg}
}

/** Accuracy drops as [layer][head]. */
export function dropGrid(r: FindHeadsResult): number[][] {
  const layers = Math.max(...r.heads.map((h) => h.layer)) + 1
  const heads = Math.max(...r.heads.map((h) => h.head)) + 1
  const grid = Array.from({length: layers}, () => new Array<number>(heads).fill(0))
  for (const h of r.heads) grid[h.layer][h.head] = h.drop
  return grid
}

/** Each head's label letter (G, A or ''), as [layer][head]. */
export function labelGrid(r: FindHeadsResult): string[][] {
  const grid = dropGrid(r).map((row) => row.map(() => ''))
  for (const h of r.heads) grid[h.layer][h.head] = labelLetter(h.label)
  return grid
}

const round = (x: number) => Number(x.toFixed(4))
