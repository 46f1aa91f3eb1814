/**
 * The precision of linear layers' matmuls, a context as torch.autocast is: 'f32' everywhere, or
 * 'mixed', where `linear` (ops.ts) rounds its operands to f16 and accumulates in f32, forward
 * and backward (the output gradient rounded too). Weights, activations between ops, and the
 * optimizer stay f32. A linear op takes the precision in force when it runs forward; its recorded
 * backward keeps it.
 */
export type Precision = 'f32' | 'mixed'

export const PRECISIONS: readonly Precision[] = ['f32', 'mixed']

let current: Precision = 'f32'

export function matmulPrecision(): Precision {
  return current
}

/** Run `fn` (synchronous, as the forward recorded on a tape is) with linear layers at `precision`. */
export function withPrecision<T>(precision: Precision, fn: () => T): T {
  const previous = current
  current = precision
  try {
    return fn()
  } finally {
    current = previous
  }
}
