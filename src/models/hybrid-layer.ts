import {add, linear, scale} from '../engine/ops.js'
import {statMatch} from '../engine/mixer-ops.js'
import type {Tensor} from '../engine/tensor.js'

/**
 * Retrieval-aware distillation's DoubleBlockAdapter (Bick, Xing and Gu 2026, arXiv 2602.11374): the kept heads' attention
 * output a, brought to the per-token mean and std of the SSM output s, through a d_model x d_model
 * linear with bias, averaged with s:
 *   m = (s + W·statMatch(a, s) + b) / 2
 * s, a [B, T, C] -> [B, T, C].
 */
export function combineAdapter(s: Tensor, a: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  return scale(add(s, linear(statMatch(a, s, eps), weight, bias)), 0.5)
}
