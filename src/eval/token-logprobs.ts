import {withPrecision, type Precision} from '../engine/precision.js'
import {argmaxRows} from '../engine/decode-ops.js'
import {crossEntropyPerRow} from '../engine/losses.js'
import {fromArray, keep, scope} from '../engine/tensor.js'
import {checkFinitePicked} from '../models/finite.js'
import type {LanguageModel} from '../models/language-model.js'

/**
 * Log-probabilities of chosen tokens: for each row b and position t in `positions[b]`, log p(target | prefix),
 * from one forward with linear layers at `precision`.
 * Rows are right-padded to one length; a causal model's earlier positions never see the padding.
 */
export async function tokenLogprobs(
  lm: LanguageModel,
  rows: number[][],
  positions: {t: number; target: number}[][],
  {precision = 'f32', padId = 0}: {precision?: Precision; padId?: number} = {},
): Promise<{logprob: number; greedy: boolean}[][]> {
  const T = Math.max(...rows.map((r) => r.length))
  const ids = new Int32Array(rows.length * T).fill(padId)
  rows.forEach((r, b) => ids.set(r, b * T))
  // Logits only where asked: the LM head over every position is most of a small model's work.
  const picked = Int32Array.from(positions.flatMap((list, b) => list.map(({t}) => b * T + t)))
  const V = lm.vocabSize
  const targets = Int32Array.from(positions.flatMap((list) => list.map(({target}) => target)))
  // No scope stays open across a read: models on several devices score at once (eval/on-devices.ts),
  // and the engine's scopes are one stack per process.
  const [logits, nll, best] = scope(() => {
    const out = withPrecision(precision, () => lm.forward(fromArray(lm.backend, ids, [rows.length, T]), {logitRows: fromArray(lm.backend, picked, [picked.length])})).logits
    if (out.shape.length !== 2 || out.shape[0] !== picked.length || out.shape[1] !== V) {
      throw new Error(`tokenLogprobs: the model returned logits [${out.shape}] for ${picked.length} picked rows of ${V}`)
    }
    // The log-softmax and the argmax run where the logits are: at Llama-3's 128,256 tokens a row is half a
    // megabyte to read back and normalise in JavaScript, and perplexity picks every position.
    const labels = fromArray(lm.backend, targets, [targets.length])
    return [keep(out), keep(crossEntropyPerRow(out, labels)), keep(argmaxRows(out))]
  })
  try {
    const losses = await nll.toFloat32()
    const argmax = await best.toArray()
    await checkFinitePicked(losses, argmax, logits)
    let next = 0
    return positions.map((list) =>
      list.map(({target}) => {
        const i = next++
        return {logprob: -losses[i], greedy: argmax[i] === target}
      }),
    )
  } finally {
    for (const t of [logits, nll, best]) t.dispose()
  }
}
