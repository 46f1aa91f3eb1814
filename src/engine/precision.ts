/**
 * The precision of linear layers' matmuls, a context as torch.autocast is: 'f32' everywhere, or
 * 'mixed', where `linear` (ops.ts) rounds its operands to f16 and accumulates in f32, forward
 * and backward (the output gradient rounded too). Weights, activations between ops, and the
 * optimizer stay f32. A linear op takes the precision in force when it runs forward; its recorded
 * backward keeps it, and so does a recomputed section (checkpoint.ts), as torch.utils.checkpoint
 * restores the autocast state.
 *
 * The context also carries the loss scale (train/loss-scaler.ts) that the backward of the loss
 * computed inside it will be seeded with. A loss that runs part of its own backward during the
 * forward (distill/chunked-logits.ts) must seed that part with the same scale: its f16-rounded
 * gradients are as small as the rest and underflow the same way without it.
 */
export type Precision = 'f32' | 'mixed'

export const PRECISIONS: readonly Precision[] = ['f32', 'mixed']

interface PrecisionContext {
  precision: Precision
  lossScale: number
  /** Inside a cached forward (a decode step or a prompt's prefill): see `decoding`. */
  decoding: boolean
}

let current: PrecisionContext = {precision: 'f32', lossScale: 1, decoding: false}

export function matmulPrecision(): Precision {
  return current.precision
}

/**
 * Whether the linear layers running now belong to a cached forward (models/decoder.ts#forwardCached):
 * a mixed linear over a decode step's few rows then reads the weight's f16 copy with the activation
 * in f32 (ops.ts#fewRowsHalfLinear), as a half-precision model decodes in torch, instead of rounding
 * both operands as a training step's autocast does; never while training, whose numbers stay the same
 * whatever its rows.
 */
export function decoding(): boolean {
  return current.decoding
}

/** Run `fn` as part of a cached forward (`decoding`), at the precision in force. */
export function withDecoding<T>(fn: () => T): T {
  const previous = current
  current = {...previous, decoding: true}
  try {
    return fn()
  } finally {
    current = previous
  }
}

/** The factor the backward of the loss being computed will be seeded with (1 unless the loss is scaled). */
export function lossScale(): number {
  return current.lossScale
}

/** Run `fn` (synchronous, as the forward recorded on a tape is) with linear layers at `precision`, its loss to be scaled by `scale`. */
export function withPrecision<T>(precision: Precision, fn: () => T, scale = 1): T {
  const previous = current
  current = {precision, lossScale: scale, decoding: previous.decoding}
  try {
    return fn()
  } finally {
    current = previous
  }
}
