import type {Backend} from '../backend/backend.js'
import type {Tensor} from '../engine/tensor.js'

/**
 * What the MOHAWK stages need of a student, whatever its architecture: each layer on its own fed
 * a given hidden state (stages 1 and 2), and the whole model (stage 3). Weights are the tensors
 * the optimizer updates in place; `describe` sorts them into the groups `--freeze` names.
 * Letters: B batch, T time, C hidden, H mixer heads, V vocab.
 */
export const WEIGHT_GROUPS = ['mixer', 'attention', 'mlp', 'norm', 'embedding', 'head'] as const
export type WeightGroup = (typeof WEIGHT_GROUPS)[number]

export interface WeightRole {
  /**
   * mixer: the SSM's weights; attention: kept attention heads and their adapter; mlp; norm: every
   * norm, the final one included; embedding: token embeddings; head: the LM head.
   */
  group: WeightGroup
  /** The layer the weight belongs to; undefined for embeddings, the final norm and the LM head. */
  layer?: number
}

export interface DistillStudent {
  readonly backend: Backend
  readonly numLayers: number
  readonly vocabSize: number
  /** Every weight by its checkpoint name. */
  readonly weights: ReadonlyMap<string, Tensor>
  describe(name: string): WeightRole
  /** Stage 1: layer `layer`'s SSM mixing matrices [B, H, T, T] for the hidden state h [B, T, C] entering the layer (its pre-mixer norm applied). */
  mixingMatrix(layer: number, h: Tensor): Tensor
  /** Stage 2: the output [B, T, C] of block `layer` (mixer, MLP, residuals) for the input h [B, T, C]. */
  block(layer: number, h: Tensor): Tensor
  /** Stage 3: ids [B, T] int32 -> logits [B, T, V]. */
  forward(ids: Tensor): {logits: Tensor}
  /** Stage 3 in pieces: ids [B, T] -> the final-normed hidden state [B, T, C] the LM head reads; `recompute`: each layer's activations recomputed in the backward. */
  finalHidden(ids: Tensor, recompute?: boolean): Tensor
  /** The LM head on final-normed rows [..., C] -> logits [..., V]. */
  head(h: Tensor): Tensor
  /** The tensors `head` reads (weight, and bias where there is one). */
  readonly headWeights: Tensor[]
}
