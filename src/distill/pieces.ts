import type {Backend} from '../backend/backend.js'
import {noGrad} from '../engine/autograd.js'
import {scope, type Tensor} from '../engine/tensor.js'
import {HybridizeError} from '../errors.js'
import type {DistillStudent} from './student.js'

/**
 * Sizes of the pieces a loss over a huge tensor is cut into (stage 1's [B, H, T, T] matrices, stage
 * 3's [B·T, V] logits): no piece over the backend's largest binding, nor over PIECE_BYTES, which
 * keeps the pieces alive at once (one at a time in stage 3) a small share of GPU memory.
 */
export const PIECE_BYTES = 512 * 2 ** 20

export function pieceBytes(backend: Backend): number {
  return Math.min(PIECE_BYTES, backend.maxBindingBytes ?? Infinity)
}

/** How many items of `itemBytes` each one piece holds: at least 1; `what` names the item for the error when one alone is over the binding. */
export function itemsPerPiece(backend: Backend, itemBytes: number, what: string, fix: string): number {
  if (backend.maxBindingBytes !== undefined && itemBytes > backend.maxBindingBytes) {
    throw new HybridizeError(`${what} is ${itemBytes} bytes, over this device's largest storage binding (${backend.maxBindingBytes} bytes); ${fix}`, {code: 'E_MEMORY'})
  }
  return Math.max(1, Math.floor(pieceBytes(backend) / itemBytes))
}

/** Layer l's weights: what a recomputed per-layer loss reads besides its inputs. */
export function layerWeights(student: DistillStudent, l: number): Tensor[] {
  return [...student.weights].filter(([name]) => student.describe(name).layer === l).map(([, t]) => t)
}

/** The teacher's forward: no tape, and every activation but the returned tensors freed at once. */
export function teacherPass<T>(fn: () => T): T {
  return scope(() => noGrad(fn))
}
