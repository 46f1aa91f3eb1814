import {readFile} from 'node:fs/promises'
import {HybridizeError} from '../errors.js'
import type {ModelIdentity} from '../hub/model-identity.js'
import {writeFileAtomic} from '../io/atomic.js'
import {heatmapSvg} from '../plot/heatmap.js'
import {labelLetter, LABEL_RULE, SSM_LABEL_RULE} from './head-labels.js'
import {kindOf, type HeadId, type HeadKind} from './head-layout.js'
import {HEADS_FORMAT, type HeadsFileJson} from './heads-schema.js'
import type {AccuracyFigures, FindHeadsOptions, FindHeadsResult, HeadScore} from './find-heads.js'

/**
 * heads.json: everything needed to reuse or reproduce a head search. Head ids are [layer, head]
 * pairs; in a model with SSM heads (a hybrid) they are {layer, head, kind} objects, as a pair
 * cannot tell an SSM head from an attention head. `scores` repeats each attention head's accuracy
 * drop keyed "L-H", the layout of Retrieval_Head's head_score files, for drop-in comparison. The scoring method is recorded, since different head
 * scores select different heads. Its schema, the one the reader checks: src/heads/heads-schema.ts.
 */

export function headsJson(model: ModelIdentity, opts: FindHeadsOptions, r: FindHeadsResult, architecture: {layers: number; heads: number; kvHeads: number}): HeadsFileJson {
  const hasSsm = r.heads.some((h) => h.kind === 'ssm')
  const id = (head: HeadId): [number, number] | {layer: number; head: number; kind: HeadKind} => (hasSsm ? {layer: head[0], head: head[1], kind: kindOf(head)} : [head[0], head[1]])
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
      labels: hasSsm ? `${LABEL_RULE}; ${SSM_LABEL_RULE}` : LABEL_RULE,
    },
    baseline: figures(r.baseline),
    chance: round(r.chance),
    selected: r.selected.map(id),
    selected_ablated: figures(r.selectedAblated),
    ...(r.greedyCurve ? {greedy_curve: r.greedyCurve.map((f, i) => ({heads: i + 1, ...figures(f)}))} : {}),
    random_ablated: {mean_acc: randomMean, draws: r.randomAblated.map((d) => ({heads: d.heads.map(id), acc: d.acc}))},
    heads: r.heads.map((h) => ({
      rank: h.rank,
      layer: h.layer,
      head: h.head,
      ...(hasSsm ? {kind: h.kind} : {}),
      ...(h.kvHead === null ? {} : {kv_head: h.kvHead}),
      acc: h.acc,
      drop: round(h.drop),
      logprob_drop: round(h.logprobDrop),
      gather: roundOrNull(h.gather),
      aggregate: roundOrNull(h.aggregate),
      answer_segment: roundOrNull(h.answerSegment),
      label: h.label,
    })),
    scores: Object.fromEntries(r.heads.filter((h) => h.kind === 'attention').map((h) => [`${h.layer}-${h.head}`, round(h.drop)])),
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
  const columns = headColumns(r)
  const outlined = r.selected.map((id) => [id[0], columns[id[0]].findIndex((h) => h.head === id[1] && h.kind === kindOf(id))] as const)
  const legend = 'G: Gather head, A: Aggregate head' + (columns.flat().some((h) => h.kind === 'ssm') ? '; S: SSM head (attention heads first; SSM heads scored by ablation only, not labelled)' : '')
  await writeFileAtomic(out, `${JSON.stringify(json, null, 2)}\n`)
  await writeFileAtomic(svg, heatmapSvg(dropGrid(r), {title, rowLabel: 'layer', columnLabel: 'head', outlined, marks: labelGrid(r), legend}))
  return {json: out, svg}
}

/**
 * The heatmaps' cells: per layer its heads in columns, attention heads by number, then SSM heads
 * by number (a teacher's columns are its heads 0..H-1).
 */
export function headColumns(r: FindHeadsResult): HeadScore[][] {
  const layers = Math.max(...r.heads.map((h) => h.layer)) + 1
  const order = (a: HeadScore, b: HeadScore) => a.kind.localeCompare(b.kind) || a.head - b.head
  return Array.from({length: layers}, (_, l) => r.heads.filter((h) => h.layer === l).sort(order))
}

/** Accuracy drops as [layer][column] (headColumns). */
export function dropGrid(r: FindHeadsResult): number[][] {
  return headColumns(r).map((row) => row.map((h) => h.drop))
}

/** Each head's mark (G, A, S for an SSM head, or ''), as [layer][column]. */
export function labelGrid(r: FindHeadsResult): string[][] {
  return headColumns(r).map((row) => row.map((h) => (h.kind === 'ssm' ? 'S' : labelLetter(h.label))))
}

const round = (x: number) => Number(x.toFixed(4))
const roundOrNull = (x: number | null) => (x === null ? null : round(x))
