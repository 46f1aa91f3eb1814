import {noGrad} from '../engine/autograd.js'
import {argmaxRows} from '../engine/decode-ops.js'
import {withPrecision, type Precision} from '../engine/precision.js'
import {add, embedding, logSoftmax, mul, repeat} from '../engine/ops.js'
import {fromArray, keep, scope, type Tensor} from '../engine/tensor.js'
import {checkFinitePicked} from '../models/finite.js'
import type {PositionScores, RowRunner, ScoreRow} from './choice-scoring.js'
import {headLayout, kindOf, type HeadId, type HeadKind, type HeadsModel, type LayerHeads} from './head-layout.js'

export {isSelected, type HeadId} from './head-layout.js'

/**
 * How an ablated head's output (the head's slice before the output projection: an attention head's
 * z, an SSM head's y) is replaced: by zeros, or by its mean over the evaluation tokens
 * (`means[layer]`, [heads·D] in the layer's z order; `ssmMeans[layer]`, [H·P]).
 */
export type Ablation = {mode: 'zero'} | {mode: 'mean'; means: Float32Array[]; ssmMeans?: Float32Array[]}

/** Padded tokens per forward chunk: bounds memory, and keeps CPU matmuls large. */
const CHUNK_TOKENS = 12_288
/** Padded tokens per plain forward whose residual stream (every layer's input) is kept for reuse. */
const BASE_TOKENS = 3_072

/**
 * Runs rows through `model`, each row with its own set of ablated heads (its variant), batched
 * into chunks of similar length: many ablations share one forward. An ablation changes nothing
 * below its lowest ablated layer, so rows with the same tokens share those layers: one plain
 * forward per distinct token row keeps the residual stream entering each layer, and each row runs
 * only from its lowest ablated layer up (a model of L layers does (L + 1) / 2 of them on average
 * over single-head ablations). Returns each requested position's scores (its targets' log-probs, the argmax). `precision`:
 * the linear layers' matmuls (engine/precision.ts), f32 or mixed (f16 operands, f32 sums).
 */
export function ablationRunner(model: HeadsModel, ablation: Ablation = {mode: 'zero'}, precision: Precision = 'f32'): RowRunner<readonly HeadId[]> {
  const layout = headLayout(model)
  return async (rows) => {
    const out: PositionScores[][] = new Array(rows.length)
    const byTokens = new Map<string, number[]>()
    rows.forEach((r, i) => {
      const key = r.ids.join(',')
      const members = byTokens.get(key)
      if (members) members.push(i)
      else byTokens.set(key, [i])
    })
    const groups = [...byTokens.values()].sort((a, b) => rows[a[0]].ids.length - rows[b[0]].ids.length)
    let start = 0
    while (start < groups.length) {
      let end = start + 1
      while (end < groups.length && (end + 1 - start) * rows[groups[end][0]].ids.length <= BASE_TOKENS) end++
      await runGroups(model, layout, ablation, precision, rows, groups.slice(start, end), out)
      start = end
    }
    return out
  }
}

/**
 * One plain forward over the groups' token rows, then every member row from its lowest ablated layer.
 * No scope stays open across an await (each is synchronous, the tensors kept past it disposed here):
 * the engine's scopes are one stack per process, and runners on several devices interleave at their
 * reads (split-runner.ts).
 */
async function runGroups(model: HeadsModel, layout: LayerHeads[], ablation: Ablation, precision: Precision, rows: ScoreRow<readonly HeadId[]>[], groups: number[][], out: PositionScores[][]): Promise<void> {
  const backend = model.backend
  const {numLayers, hiddenSize} = model.skeleton
  const B = groups.length
  const T = Math.max(...groups.map((g) => rows[g[0]].ids.length))
  const ids = new Int32Array(B * T)
  groups.forEach((g, b) => ids.set(rows[g[0]].ids, b * T))
  const hiddenStates = scope(() => noGrad(() => withPrecision(precision, () => model.forward(fromArray(backend, ids, [B, T]), {hiddenStates: true, logitRows: fromArray(backend, new Int32Array(1), [1])}))).hiddenStates!).map(keep)
  try {
    // Rows without an ablation rerun the last layer: simpler than a separate path, and one layer of L.
    const startLayer = (i: number) => Math.min(numLayers - 1, ...rows[i].variant.map(([l]) => l))
    const members = groups.flatMap((g, b) => g.map((i) => ({i, b, from: startLayer(i)})))
    const perChunk = Math.max(1, Math.floor(CHUNK_TOKENS / T))
    for (let from = 0; from < numLayers; from++) {
      const bucket = members.filter((m) => m.from === from)
      for (let at = 0; at < bucket.length; at += perChunk) {
        const chunk = bucket.slice(at, at + perChunk)
        const chunkRows = chunk.map((m) => rows[m.i])
        const picks = Int32Array.from(chunkRows.flatMap((r, k) => r.positions.map((p) => k * T + p)))
        const V = model.vocabSize
        // Position j of the chunk's picks asks for its row's targets; their places in the [picks, V] log-probs.
        const targets = chunkRows.flatMap((r) => r.targets)
        const wanted = Int32Array.from(targets.flatMap((tokens, j) => tokens.map((t) => j * V + t)))
        // The log-softmax, the picking of the targets and the argmax on the device: only those numbers are
        // read back (a 128k-token row each was most of find-heads' time at 1B, in reads and in JavaScript).
        const [logprobs, picked, best] = scope(() => {
          const base = hiddenStates[from].reshape([B, T * hiddenSize])
          const hidden = embedding(fromArray(backend, Int32Array.from(chunk.map((m) => m.b)), [chunk.length]), base).reshape([chunk.length, T, hiddenSize])
          const logits = noGrad(() => withPrecision(precision, () =>
            model.forward(fromArray(backend, new Int32Array(chunk.length * T), [chunk.length, T]), {
              fromLayer: {layer: from, hidden},
              logitRows: fromArray(backend, picks, [picks.length]),
              headOutputs: (layer, z) => ablate(z, layer, chunkRows, 'attention', (h) => layout[layer].attention.indexOf(h), ablation.mode === 'mean' ? ablation.means : undefined),
              ssmHeadOutputs: (layer, y) => ablate(y, layer, chunkRows, 'ssm', (h) => h, ablation.mode === 'mean' ? ablation.ssmMeans ?? [] : undefined),
            }),
          )).logits
          const all = logSoftmax(logits)
          // embedding() as a gather: the log-probs viewed as a table of [picks · V] one-value rows.
          const gathered = embedding(fromArray(backend, wanted, [wanted.length]), all.reshape([picks.length * V, 1]))
          return [keep(all), keep(gathered), keep(argmaxRows(logits))]
        })
        try {
          const values = await picked.toFloat32()
          const argmax = await best.toArray()
          await checkFinitePicked(values, argmax, logprobs)
          let j = 0
          let at = 0
          for (const m of chunk) {
            out[m.i] = rows[m.i].positions.map(() => {
              const tokens = targets[j]
              const scores = {tokens, logprobs: values.slice(at, at + tokens.length), argmax: argmax[j]}
              j++
              at += tokens.length
              return scores
            })
          }
        } finally {
          for (const t of [logprobs, picked, best]) t.dispose()
        }
      }
    }
  } finally {
    for (const h of hiddenStates) h.dispose()
  }
}

/**
 * z [B, T, heads, D] (a layer's attention or SSM head outputs, by `kind`) with the heads of that
 * kind each row ablates at `layer` replaced: zeros, or `means[layer]` when given; z itself when
 * none are. `slot`: a head's place in z. The masks are built per row ([B, heads·D]) and repeated
 * over the positions on the device: a mask of z's whole size was gigabytes of uploads a run at 1B.
 */
function ablate(z: Tensor, layer: number, rows: ScoreRow<readonly HeadId[]>[], kind: HeadKind, slot: (head: number) => number, means: Float32Array[] | undefined): Tensor {
  const [B, T, Hq, D] = z.shape
  const ablated = (id: HeadId) => id[0] === layer && kindOf(id) === kind
  if (!rows.some((r) => r.variant.some(ablated))) return z
  const keep = new Float32Array(B * Hq * D).fill(1)
  const fill = means ? new Float32Array(B * Hq * D) : undefined
  rows.forEach((r, b) => {
    for (const id of r.variant) {
      if (!ablated(id)) continue
      const h = slot(id[1])
      const mean = means?.[layer]
      if (h < 0 || h >= Hq || (means && !mean)) throw new Error(`ablation of ${kind} head ${id[1]} of layer ${layer}: the layer has no such head${means ? ' or no mean output for it' : ''}`)
      const at = (b * Hq + h) * D
      keep.fill(0, at, at + D)
      if (fill) fill.set(mean!.subarray(h * D, (h + 1) * D), at)
    }
  })
  const perPosition = (values: Float32Array): Tensor => repeat(fromArray(z.backend, values, [B, Hq * D]), T, 1).reshape(z.shape)
  const kept = mul(z, perPosition(keep))
  return fill ? add(kept, perPosition(fill)) : kept
}
