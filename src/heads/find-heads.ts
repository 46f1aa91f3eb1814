import type {Precision} from '../engine/precision.js'
import {HybridizeError} from '../errors.js'
import {generateSamples, getTask, type TaskName, type TaskSample} from '../tasks/index.js'
import type {TextTokenizer} from '../tokenizer/load.js'
import {Random} from '../util/random.js'
import {ablationRunner, type Ablation} from './ablation-runner.js'
import {allHeads as headsOf, headLayout, isSelected, kindOf, sameHead, type HeadId, type HeadKind, type HeadsModel} from './head-layout.js'
import {attentionPatterns, type HeadPatterns} from './attention-patterns.js'
import {headsInBudget} from './budget.js'
import {splitRows} from './split-runner.js'
import {headLabel, type HeadLabel} from './head-labels.js'
import {scoreChoices, tokenizeItems, type ChoiceOutcome} from './choice-scoring.js'

/**
 * Retrieval-head search (Retrieval-Aware Distillation, section 6.1): ablate each attention head
 * alone, measure how much the retrieval task's accuracy drops, rank the heads by that drop, and
 * keep the top ones. Every head's ablation runs in the same batched passes (one row per sample and
 * ablation). Heads are also labelled by their attention pattern (attention-patterns.ts). In a
 * hybrid or SSM model the SSM heads are ablated and ranked alike, and labelled by nothing: they
 * have no attention pattern (Gather-and-Aggregate scores Llamba's heads by ablation alone).
 */
export interface FindHeadsOptions {
  task: TaskName
  samples: number
  /** kv-retrieval dictionary size. */
  pairs: number
  seed: number
  ablation: 'zero' | 'mean'
  /** How many heads to select: a count, or a fraction of all heads (--budget: rounded, at least one). */
  select: {topK: number} | {fraction: number}
  /**
   * individual: the top of the ranking by single-head ablation (the papers' method). greedy: head
   * by head, the one whose ablation together with those already chosen costs the most. Greedy finds
   * heads that stand in for one another, which single ablations cannot see (each alone costs
   * nothing while another does its job), at one more pass over all heads per selected head.
   * aggregate: the heads whose last-token attention rests most on the answer's line (the Aggregate
   * heads, answerSegment), ties broken by the ranking. What to keep as attention when distilling:
   * ablation ranks first the Gather side (short look-backs an SSM learns to do), while the
   * long-range lookup is the part an SSM cannot take over (EXPERIMENTS.md).
   */
  selection: Selection
  /** Random sets of as many heads as are selected (drawn from the others) to ablate for comparison. */
  randomDraws: number
  /** The linear layers' matmuls in every forward: f32, or mixed (f16 operands, f32 sums; engine/precision.ts). */
  precision: Precision
  progress?: (text: string) => void
}

export type Selection = 'individual' | 'greedy' | 'aggregate'

export const SELECTIONS: readonly Selection[] = ['individual', 'greedy', 'aggregate']

export interface HeadScore {
  layer: number
  /** An attention head's number in the teacher, or an SSM head's among the layer's mixer heads. */
  head: number
  kind: HeadKind
  /** The key/value head this query head reads (GQA); null for an SSM head. */
  kvHead: number | null
  rank: number
  /** Accuracy with this head ablated, and the drop from the baseline. */
  acc: number
  drop: number
  /** Mean drop of the answer's log-likelihood: breaks ties between equal accuracy drops. */
  logprobDrop: number
  /** Attention-pattern scores (attention-patterns.ts); null for an SSM head, which has none. */
  gather: number | null
  aggregate: number | null
  answerSegment: number | null
  /** Gather or Aggregate by its attention pattern (head-labels.ts), or neither; null for every SSM head. */
  label: HeadLabel | null
}

export interface AccuracyFigures {
  acc: number
  argmaxAcc: number
  exactAcc: number
  answerLogprob: number
}

export interface FindHeadsResult {
  baseline: AccuracyFigures
  /** Ranked: the largest accuracy drop first. */
  heads: HeadScore[]
  selected: HeadId[]
  /** Accuracy with every selected head ablated at once. */
  selectedAblated: AccuracyFigures
  /** Greedy selection only: accuracy with the first 1, 2, ... selected heads ablated together. */
  greedyCurve?: AccuracyFigures[]
  /** Accuracy with as many other heads, chosen at random, ablated: per draw. */
  randomAblated: {heads: HeadId[]; acc: number}[]
  /** Chance level: one over the number of choices. */
  chance: number
  /** The single-head ablation pass (every head and the baseline): forward rows, their tokens, wall seconds. */
  ablationPass: {rows: number; tokens: number; seconds: number}
}

/**
 * The prompts find-heads scores, drawn from their own stream of `seed`: evaluation draws its
 * samples from the seed itself, and a recipe's seed goes to both commands, so without the stream
 * the student would be scored on the very samples its kept heads were selected on.
 */
export function findHeadsSamples(task: TaskName, opts: Pick<FindHeadsOptions, 'seed' | 'samples' | 'pairs'>): TaskSample[] {
  const taskOptions = task === 'kv-retrieval' ? {pairs: opts.pairs} : {}
  return generateSamples(getTask(task), {seed: new Random(opts.seed, HEADS_SAMPLES_STREAM).uint32(), count: opts.samples, ...taskOptions})
}

const HEADS_SAMPLES_STREAM = 0x686473

/** `peers`: the same model loaded on further devices, which share the ablations (split-runner.ts). */
export async function findHeads(model: HeadsModel, tok: TextTokenizer, opts: FindHeadsOptions, peers: HeadsModel[] = []): Promise<FindHeadsResult> {
  const {numHeads: H, numKvHeads: Hkv} = model.skeleton
  const layout = headLayout(model)
  const allHeads = headsOf(layout)
  const attentionCount = allHeads.filter((id) => kindOf(id) === 'attention').length
  const progress = opts.progress ?? (() => {})
  const k = selectionSize(opts.select, allHeads.length)
  if (opts.selection === 'aggregate' && attentionCount === 0) {
    throw new HybridizeError('--selection aggregate ranks attention heads by their pattern, and this model has none; use --selection individual or greedy', {code: 'E_USAGE'})
  }
  const samples = findHeadsSamples(opts.task, opts)
  const items = tokenizeItems(tok, samples)

  progress(`attention patterns of ${attentionCount} attention heads over ${samples.length} prompts`)
  const patterns = await attentionPatterns(model, tok, samples, items.map((i) => i.context), opts.precision)
  const ablation: Ablation = opts.ablation === 'mean' ? {mode: 'mean', means: patterns.meanOutputs, ssmMeans: patterns.ssmMeanOutputs} : {mode: 'zero'}
  const runner = splitRows([model, ...peers].map((m) => ablationRunner(m, ablation, opts.precision)))
  const work = {rows: 0, tokens: 0}
  const run: typeof runner = (rows) => {
    work.rows += rows.length
    work.tokens += rows.reduce((n, r) => n + r.ids.length, 0)
    return runner(rows)
  }
  const score = async (variants: (readonly HeadId[])[]): Promise<AccuracyFigures[]> => {
    const outcomes = await scoreChoices(
      variants.flatMap((variant) => items.map((item) => ({item, variant}))),
      run,
    )
    return variants.map((_, v) => summarize(outcomes.slice(v * items.length, (v + 1) * items.length)))
  }

  progress(`ablating each of ${allHeads.length} heads (${samples.length} samples each, batched)`)
  const passStarted = performance.now()
  const [baseline, ...single] = await score([[], ...allHeads.map((head) => [head])])
  const ablationPass = {...work, seconds: (performance.now() - passStarted) / 1000}
  const heads: HeadScore[] = allHeads
    .map((id, i) => ({
      layer: id[0],
      head: id[1],
      kind: kindOf(id),
      kvHead: kindOf(id) === 'attention' ? Math.floor(id[1] / (H / Hkv)) : null,
      rank: 0,
      acc: single[i].acc,
      drop: baseline.acc - single[i].acc,
      logprobDrop: baseline.answerLogprob - single[i].answerLogprob,
      ...headPatterns(patterns, layout[id[0]].attention, id),
    }))
    .sort((a, b) => b.drop - a.drop || b.logprobDrop - a.logprobDrop || a.layer - b.layer || a.kind.localeCompare(b.kind) || a.head - b.head)
  heads.forEach((h, i) => (h.rank = i + 1))

  const ranked: HeadId[] = heads.map(scoreId)
  const alone = (id: HeadId) => single[allHeads.findIndex((h) => sameHead(h, id))]
  const greedy = opts.selection === 'greedy' ? await greedySelection(ranked, alone, k, score, progress) : undefined
  const selected = greedy?.selected ?? (opts.selection === 'aggregate' ? byAnswerSegment(heads) : ranked).slice(0, k)
  const rng = new Random(opts.seed, 1)
  const others = ranked.filter((id) => !isSelected(selected, id))
  const draws = Array.from({length: opts.randomDraws}, () => rng.sampleWithoutReplacement(others, Math.min(k, others.length)))
  progress(`ablating the ${k} selected heads together, and ${opts.randomDraws} random sets of ${k}`)
  const [selectedAblated, ...random] = await score([selected, ...draws])
  return {
    baseline,
    heads,
    selected,
    selectedAblated,
    greedyCurve: greedy?.curve,
    randomAblated: draws.map((heads, i) => ({heads, acc: random[i].acc})),
    chance: samples.reduce((a, s) => a + 1 / s.choices.length, 0) / samples.length,
    ablationPass,
  }
}

/** A scored head's id. */
export function scoreId(h: HeadScore): HeadId {
  return h.kind === 'ssm' ? [h.layer, h.head, 'ssm'] : [h.layer, h.head]
}

/** An attention head's pattern scores and label; nulls for an SSM head. */
function headPatterns(patterns: HeadPatterns, attention: number[], id: HeadId): Pick<HeadScore, 'gather' | 'aggregate' | 'answerSegment' | 'label'> {
  if (kindOf(id) === 'ssm') return {gather: null, aggregate: null, answerSegment: null, label: null}
  const [l, slot] = [id[0], attention.indexOf(id[1])]
  const scores = {gather: patterns.gather[l][slot], aggregate: patterns.aggregate[l][slot]}
  return {...scores, answerSegment: patterns.answerSegment[l][slot], label: headLabel(scores)}
}

/**
 * Heads by their Aggregate pattern (last-token attention on the answer's line), the ranking breaking
 * ties; SSM heads, which have no pattern, after every attention head in their ranking's order.
 */
function byAnswerSegment(heads: HeadScore[]): HeadId[] {
  return [...heads].sort((a, b) => (b.answerSegment ?? -1) - (a.answerSegment ?? -1) || a.rank - b.rank).map(scoreId)
}

/**
 * Greedy joint selection: the first head is the single ablation that costs most; each next one the
 * head that, ablated together with those chosen, costs most (lower accuracy, then lower answer
 * log-likelihood). One batched pass over the remaining heads per round.
 */
export async function greedySelection(
  ranked: HeadId[],
  alone: (head: HeadId) => AccuracyFigures,
  k: number,
  score: (variants: (readonly HeadId[])[]) => Promise<AccuracyFigures[]>,
  progress: (text: string) => void,
): Promise<{selected: HeadId[]; curve: AccuracyFigures[]}> {
  const worse = (a: AccuracyFigures, b: AccuracyFigures) => a.acc - b.acc || a.answerLogprob - b.answerLogprob
  const selected: HeadId[] = [ranked[0]]
  const curve: AccuracyFigures[] = [alone(ranked[0])]
  while (selected.length < k) {
    const pool = ranked.filter((id) => !isSelected(selected, id))
    progress(`greedy selection: head ${selected.length + 1} of ${k}, ablating ${pool.length} heads beside the ${selected.length} chosen`)
    const figures = await score(pool.map((head) => [...selected, head]))
    let best = 0
    for (let i = 1; i < pool.length; i++) if (worse(figures[i], figures[best]) < 0) best = i
    selected.push(pool[best])
    curve.push(figures[best])
  }
  return {selected, curve}
}

/** How many heads to select, checked before any pass runs. */
function selectionSize(select: FindHeadsOptions['select'], total: number): number {
  if ('topK' in select) return Math.min(select.topK, total)
  const k = headsInBudget(select.fraction, total)
  if (k === 0) throw new HybridizeError('--budget 0 selects no head; find-heads selects at least one (--top-k 1)', {code: 'E_USAGE', exitCode: 2})
  return k
}

function summarize(outcomes: ChoiceOutcome[]): AccuracyFigures {
  const n = outcomes.length
  return {
    acc: outcomes.filter((o) => o.correct).length / n,
    argmaxAcc: outcomes.filter((o) => o.argmaxCorrect).length / n,
    exactAcc: outcomes.filter((o) => o.exactCorrect).length / n,
    answerLogprob: outcomes.reduce((a, o) => a + o.answerLogprob, 0) / n,
  }
}
