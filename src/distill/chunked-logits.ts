import {fromArray, scope, type Tensor} from '../engine/tensor.js'
import {backward, needsGrad, noGrad, record, withTape} from '../engine/autograd.js'
import {concat, narrow} from '../engine/layout-ops.js'
import {add, mul, scale} from '../engine/ops.js'
import {lossScale} from '../engine/precision.js'
import {itemsPerPiece} from './pieces.js'

/**
 * A logit-matching loss without the [N, V] logits: stage 3's student and teacher logits at
 * 4 x 2048 tokens of a 128,256 vocabulary are 4.2 GB each in f32, over a GPU's largest binding.
 * The LM heads run on a few rows (positions) at a time and the loss of each chunk of rows is
 * weighted by its share of the rows, so the sum is the loss over all rows (the losses are means
 * over rows). Only one chunk's logits live at once. When a gradient is wanted, each chunk's
 * backward runs right after its forward, through the loss's own backward on a tape of its own (as
 * Liger's fused linear cross-entropy): the outer tape keeps only the gradients of the hidden
 * states [N, C] and of the head, which its backward scales by the incoming gradient. In mixed
 * precision each chunk's backward is seeded with the loss scale (precision.ts), the gradient the
 * outer backward will bring, as the rest of the backward is: seeded with 1, its f16-rounded logit
 * gradients (about 1/(N·V) each) would underflow to zero or a few bits.
 * Letters: N rows (B·T), C hidden, V vocab.
 */
export interface ChunkedLogitsInputs {
  /** The student's final-normed hidden states [..., C] (on the tape). */
  hidden: Tensor
  /** The student's LM head on rows [n, C] -> [n, V]; reads `headWeights`. */
  head: (h: Tensor) => Tensor
  /** The tensors `head` reads that may train (weight, bias): their gradients come out of the backward. */
  headWeights: Tensor[]
  /** The teacher's final-normed hidden states [..., C], a constant. */
  teacherHidden: Tensor
  teacherHead: (h: Tensor) => Tensor
  vocabSize: number
  /** The loss on one chunk's logits: student [n, V], teacher [n, V] -> a mean over the n rows. */
  loss: (student: Tensor, teacher: Tensor) => Tensor
}

export function chunkedLogitLoss(inputs: ChunkedLogitsInputs): Tensor {
  const {head, teacherHead, vocabSize, loss} = inputs
  const c = inputs.hidden.shape.at(-1)!
  const hidden = inputs.hidden.reshape([-1, c])
  const teacherHidden = inputs.teacherHidden.reshape([-1, c])
  const N = hidden.shape[0]
  const rows = itemsPerPiece(hidden.backend, vocabSize * 4, 'one row of logits', 'the vocabulary is too large for this device')
  const chunks = Array.from({length: Math.ceil(N / rows)}, (_, i) => ({start: i * rows, n: Math.min(rows, N - i * rows)}))
  // One chunk's loss weighted by its share of the rows.
  const chunkLoss = (h: Tensor, start: number, n: number): Tensor => {
    const target = noGrad(() => teacherHead(narrow(teacherHidden, 0, start, n)))
    const value = loss(head(h), target)
    return n === N ? value : scale(value, n / N)
  }
  const taped = [hidden, ...inputs.headWeights]
  const needs = taped.map((t) => needsGrad([t]))
  if (!needs.some(Boolean)) {
    // Each chunk in its own scope: its logits are freed before the next chunk's are made.
    return noGrad(() => chunks.reduce<Tensor | undefined>((sum, {start, n}) => scope(() => {
      const piece = chunkLoss(narrow(hidden, 0, start, n), start, n)
      return sum ? add(sum, piece) : piece
    }), undefined)!)
  }
  // The chunks' gradients are computed for this incoming gradient; the outer backward divides it out.
  const seedValue = lossScale()
  const {total, gradients} = noGrad(() => {
    // Leaves of each chunk's tape: the chunk's rows, and views of the head's weights that train.
    const leafWeights = inputs.headWeights.map((w, i) => (needs[i + 1] ? w.reshape(w.shape) : undefined))
    for (const w of leafWeights) if (w) w.requiresGrad = true
    let sum: Tensor | undefined
    const hGrads: Tensor[] = []
    let wGrads: (Tensor | undefined)[] = leafWeights.map(() => undefined)
    for (const {start, n} of chunks) {
      const step = scope(() => {
        const rowsIn = narrow(hidden, 0, start, n)
        rowsIn.requiresGrad = needs[0]
        const {result} = withTape(() => chunkLoss(rowsIn, start, n))
        const seed = seedValue === 1 ? undefined : fromArray(result.backend, Float32Array.of(seedValue), result.shape)
        const [gh, ...gw] = backward(result, [rowsIn, ...leafWeights.filter((w): w is Tensor => w !== undefined)], {seed})
        let k = 0
        const sums = leafWeights.map((w, i) => (w ? (wGrads[i] ? add(wGrads[i]!, gw[k++]) : gw[k++]) : undefined))
        return {sum: sum ? add(sum, result) : result, gh, sums}
      })
      for (const prev of [...wGrads, sum]) prev?.dispose()
      sum = step.sum
      hGrads.push(step.gh)
      wGrads = step.sums
    }
    for (const w of leafWeights) w?.dispose()
    const gHidden = hGrads.length === 1 ? hGrads[0] : concat(hGrads, 0)
    if (hGrads.length > 1) for (const t of hGrads) t.dispose()
    return {total: sum!, gradients: [gHidden, ...wGrads]}
  })
  // The gradients are final: the backward only scales them by the incoming gradient (a scalar) over the seed.
  const saved = gradients.filter((g): g is Tensor => g !== undefined)
  record(taped, [total], ([g], ctx) => {
    const [gh, ...gw] = ctx.saved
    const factor = seedValue === 1 ? g! : scale(g!, 1 / seedValue)
    let k = 0
    const out = [needs[0] ? mul(gh, factor) : undefined, ...needs.slice(1).map((need) => (need ? mul(gw[k++], factor) : undefined))]
    if (factor !== g) factor.dispose()
    return out
  }, saved)
  for (const t of saved) t.dispose()
  return total
}
