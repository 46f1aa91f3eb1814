import {noGrad} from '../engine/autograd.js'
import {withPrecision, type Precision} from '../engine/precision.js'
import {fromArray, scopeAsync, type Tensor} from '../engine/tensor.js'
import {headLayout, type HeadsModel} from './head-layout.js'
import type {TaskSample} from '../tasks/types.js'
import type {TextTokenizer} from '../tokenizer/load.js'

/**
 * What each head does on the task prompts, read from its attention probabilities (Gather-and-
 * Aggregate, Bick et al. 2025, section 5.1), plus each head's mean output for mean ablation.
 * Scores are attention mass in [0, 1], averaged over samples, [layer][slot] (an attention head's
 * place in the layer: its number in a teacher, its place among the kept heads in a hybrid); SSM
 * heads have no attention pattern and get none:
 *   gather          from each segment's final token (the '\n' of `key:value\n`) to the segment's
 *                   other tokens: compressing the segment into its last token
 *   aggregate       from the prompt's last token to the answer segment's final token
 *   answerSegment   from the prompt's last token to any token of the answer segment
 */
export interface HeadPatterns {
  gather: number[][]
  aggregate: number[][]
  answerSegment: number[][]
  /** Per layer, each attention head's output z averaged over every prompt token: [heads·D]. */
  meanOutputs: Float32Array[]
  /** Per layer, each SSM head's output y (before the output projection) averaged the same way: [H·P]. */
  ssmMeanOutputs: Float32Array[]
}

/** Token positions of a prompt's segments: first token and final token of each. */
export interface SegmentTokens {
  first: number[]
  last: number[]
}

const CHUNK_SAMPLES = 16

export async function attentionPatterns(model: HeadsModel, tok: TextTokenizer, samples: readonly TaskSample[], prompts: readonly number[][], precision: Precision = 'f32'): Promise<HeadPatterns> {
  const layout = headLayout(model)
  const grid = () => layout.map((l) => new Array<number>(l.attention.length).fill(0))
  const gather = grid()
  const aggregate = grid()
  const answerSegment = grid()
  const outputSums: Float64Array[] = []
  const ssmOutputSums: Float64Array[] = []
  let tokens = 0
  for (let start = 0; start < samples.length; start += CHUNK_SAMPLES) {
    const rows = prompts.slice(start, start + CHUNK_SAMPLES)
    const B = rows.length
    const T = Math.max(...rows.map((r) => r.length))
    const ids = new Int32Array(B * T)
    rows.forEach((r, b) => ids.set(r, b * T))
    const read = (ts: (Tensor | undefined)[]) => Promise.all(layout.map((_, l) => ts[l]?.toFloat32()))
    const {probs, outputs, ssmOutputs} = await scopeAsync(async () => {
      const zs: Tensor[] = []
      const ys: Tensor[] = []
      const {attentions} = noGrad(() => withPrecision(precision, () =>
        model.forward(fromArray(model.backend, ids, [B, T]), {
          attentions: true,
          logitRows: fromArray(model.backend, Int32Array.of(0), [1]),
          headOutputs: (l, z) => (zs[l] = z),
          ssmHeadOutputs: (l, y) => (ys[l] = y),
        }),
      ))
      return {probs: await read(attentions!), outputs: await read(zs), ssmOutputs: await read(ys)}
    })
    rows.forEach((row, b) => {
      const sample = samples[start + b]
      const seg = segmentTokens(tok, row, sample)
      const last = row.length - 1
      const answer = sample.answerSegment
      layout.forEach(({attention}, l) => {
        const H = attention.length
        for (let h = 0; h < H; h++) {
          const scores = promptPatterns((q, k) => probs[l]![((b * H + h) * T + q) * T + k], seg, last, answer)
          gather[l][h] += scores.gather
          aggregate[l][h] += scores.aggregate
          answerSegment[l][h] += scores.answerSegment
        }
        addTokens(outputSums, l, outputs[l], B, b, T, row.length)
        addTokens(ssmOutputSums, l, ssmOutputs[l], B, b, T, row.length)
      })
      tokens += row.length
    })
  }
  const n = samples.length
  const average = (g: number[][]) => g.map((r) => r.map((x) => x / n))
  const means = (sums: Float64Array[]) => layout.map((_, l) => Float32Array.from(sums[l] ?? [], (x) => x / tokens))
  return {
    gather: average(gather),
    aggregate: average(aggregate),
    answerSegment: average(answerSegment),
    meanOutputs: means(outputSums),
    ssmMeanOutputs: means(ssmOutputSums),
  }
}

/** Adds row b's first `length` tokens of one layer's head outputs [B, T, width] into sums[l]. */
function addTokens(sums: Float64Array[], l: number, outputs: Float32Array | undefined, rows: number, b: number, T: number, length: number): void {
  if (!outputs) return
  const width = outputs.length / (rows * T)
  const sum = (sums[l] ??= new Float64Array(width))
  for (let t = 0; t < length; t++) {
    const base = (b * T + t) * width
    for (let i = 0; i < width; i++) sum[i] += outputs[base + i]
  }
}

/**
 * One head's scores on one prompt, from its attention probabilities `at(query, key)`: gather
 * averaged over the segments, aggregate and answerSegment read from the row of `last`.
 */
export function promptPatterns(at: (q: number, k: number) => number, seg: SegmentTokens, last: number, answer: number): {gather: number; aggregate: number; answerSegment: number} {
  let gather = 0
  seg.last.forEach((end, s) => {
    for (let k = seg.first[s]; k < end; k++) gather += at(end, k)
  })
  let answerSegment = 0
  for (let k = seg.first[answer]; k <= seg.last[answer]; k++) answerSegment += at(last, k)
  return {gather: gather / seg.last.length, aggregate: at(last, seg.last[answer]), answerSegment}
}

/** The tokens holding each segment's first and final characters. */
function segmentTokens(tok: TextTokenizer, ids: readonly number[], sample: TaskSample): SegmentTokens {
  // ends[i]: characters of the prompt covered by tokens 0..i (decoding prefixes keeps multi-byte characters whole).
  const ends = ids.map((_, i) => tok.decode(ids.slice(0, i + 1), {skipSpecialTokens: true}).length)
  const tokenAt = (char: number) => {
    const i = ends.findIndex((end) => end > char)
    if (i < 0) throw new Error(`attentionPatterns: character ${char} lies past the prompt's tokens`)
    return i
  }
  return {
    first: sample.segments.map((s) => tokenAt(s.start)),
    last: sample.segments.map((s) => tokenAt(s.end - 1)),
  }
}
