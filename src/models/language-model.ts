import type {Backend} from '../backend/backend.js'
import type {Tensor} from '../engine/tensor.js'

/**
 * What scoring needs of a model (evaluation, the server's logprobs), whichever model it is: token
 * ids [B, T] in, logits [B, T, V] out, or [N, V] for just the `logitRows` (i32 [N] rows of the
 * flattened [B·T] positions).
 */
export interface LanguageModel {
  readonly backend: Backend
  readonly vocabSize: number
  forward(ids: Tensor, opts?: {logitRows?: Tensor}): {logits: Tensor}
}
