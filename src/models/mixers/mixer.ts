import type {Tensor} from '../../engine/tensor.js'
import {ShapeError} from '../../errors.js'

/**
 * What every student mixer offers. A mixer maps u [B, T, C] to [B, T, C] in three forms that
 * agree: the chunked scan (training and prefill), the recurrent step (decoding, one token with an
 * explicit state in and out), and the materialised mixing matrix [B, H, T, T] that MOHAWK's stage 1
 * matches against the teacher's attention. The chunked and matrix forms are differentiable through
 * the ops' autograd; the step is for inference.
 * Letters: B batch, T time, C hidden, H heads, P head dim, N state size.
 */
export type MixerKind = 'discrete-mamba2' | 'mamba2' | 'mamba3'

export const MIXER_KINDS: readonly MixerKind[] = ['discrete-mamba2', 'mamba2', 'mamba3']

/** Recurrent state of the conv + SSD mixers: the last W-1 conv inputs and the SSM state. */
export interface ConvSsmState {
  /** [B, W-1, conv channels], oldest first. */
  convWindow: Tensor
  /** [B, H, P, N] */
  ssmState: Tensor
}

export interface MixerForwardOptions<S> {
  /** Continue a sequence from this state (zeros when absent). */
  state?: S
  /** Also return the state after the last token. */
  returnState?: boolean
  /**
   * Edit the per-head output y [B, T, H, P] that the output projection reads (its input, reshaped
   * to heads), as the decoder's headOutputs does an attention head's: find-heads ablates SSM heads
   * through it (Gather-and-Aggregate's Llamba analysis). Return y or a replacement of its shape.
   */
  headOutputs?: (y: Tensor) => Tensor
}

/** Elements one sequence keeps between tokens. */
export interface MixerStateSize {
  ssm: number
  /** Conv window (Mamba-2 variants) or the previous token's key, value and angles (Mamba-3). */
  other: number
}

export interface SsmMixer<S = unknown> {
  readonly kind: MixerKind
  /** Heads of the mixing matrix (its H). */
  readonly heads: number
  /** Weights by local name (`in_proj.weight`, `D`, ...). */
  readonly weights: ReadonlyMap<string, Tensor>
  /** Chunked: u [B, T, C] -> out [B, T, C]. */
  forward(u: Tensor, opts?: MixerForwardOptions<S>): {out: Tensor; state?: S}
  /** One token: u [B, C] -> out [B, C] and the next state. */
  step(u: Tensor, state: S): {out: Tensor; state: S}
  /** The mixing matrix [B, H, T, T] (from a zero state) that maps the mixer's values to its pre-gate output. */
  mixingMatrix(u: Tensor): Tensor
  /** The same output as `forward`, computed through `mixingMatrix` (zero initial state). */
  forwardMaterialized(u: Tensor): Tensor
  zeroState(batch: number): S
  stateSize(): MixerStateSize
}

/** A weight by local name, or a ShapeError naming the mixer. */
export function requireWeight(weights: ReadonlyMap<string, Tensor>, name: string, mixer: string): Tensor {
  const t = weights.get(name)
  if (!t) throw new ShapeError(`${mixer} mixer: missing weight ${name}`)
  return t
}

/** Check the given weights against the expected names and shapes (extra names are an error too). */
export function checkMixerWeights(weights: ReadonlyMap<string, Tensor>, expected: ReadonlyMap<string, number[]>, mixer: string): void {
  for (const [name, shape] of expected) {
    const t = requireWeight(weights, name, mixer)
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ShapeError(`${mixer} mixer: weight ${name} has shape [${t.shape}], expected [${shape}]`)
    }
  }
  for (const name of weights.keys()) if (!expected.has(name)) throw new ShapeError(`${mixer} mixer: unexpected weight ${name}`)
}
