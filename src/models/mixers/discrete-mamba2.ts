import type {Backend} from '../../backend/backend.js'
import {split} from '../../engine/layout-ops.js'
import {add, linear, mul, negSoftplus, silu} from '../../engine/ops.js'
import {ssdChunked, ssdMatrix, ssdStep} from '../../engine/ssm-ops.js'
import {zeros, type Tensor} from '../../engine/tensor.js'
import {ShapeError} from '../../errors.js'
import {checkMixerWeights, requireWeight, type ConvSsmState, type MixerForwardOptions, type MixerStateSize, type SsmMixer} from './mixer.js'
import {addDiagonal, applyMatrix, causalConv, headsHook, perHead} from './ssd-parts.js'

/**
 * Discrete Mamba-2, the mixer of Phi-Mamba, Llamba and the mohawk hybrids (Bick et al. 2024, arXiv 2408.10189; goombalab/phi-mamba):
 *   in_proj(u) = [x | B | C] (through the causal conv, no activation) | z | A_log
 *   h_t = sigmoid(−A_log_t)·h_{t−1} + x_t B_tᵀ,   y_t = h_t C_t + D ⊙ x_t
 *   out = out_proj(y ⊙ silu(z + z_bias))
 * B and C have `qkHeads` heads (the teacher's query heads), shared by vHeads / qkHeads value heads.
 * z_bias exists when the projections have no bias (with biases, z's bias is in in_proj.bias).
 * Letters: B batch, T time, C hidden, Hv value heads, Hqk B/C heads, P head dim, N state size.
 */
export interface DiscreteMamba2Config {
  kind: 'discrete-mamba2'
  hiddenSize: number
  vHeads: number
  qkHeads: number
  headDim: number
  stateDim: number
  convWidth: number
  convBias: boolean
  /** Biases on in_proj and out_proj. */
  bias: boolean
  chunk: number
}

/** z_bias that makes silu(z_bias) ≈ 1, so a zeroed z projection starts the gate as the identity. */
export const IDENTITY_GATE_BIAS = 1.278464542761

export function discreteMamba2Dims(cfg: DiscreteMamba2Config): {inner: number; bc: number; conv: number; proj: number} {
  const inner = cfg.vHeads * cfg.headDim
  const bc = cfg.qkHeads * cfg.stateDim
  const conv = inner + 2 * bc
  return {inner, bc, conv, proj: conv + inner + cfg.vHeads}
}

/** Local weight names and shapes. */
export function discreteMamba2Weights(cfg: DiscreteMamba2Config): Map<string, number[]> {
  const d = discreteMamba2Dims(cfg)
  const w = new Map<string, number[]>()
  w.set('in_proj.weight', [d.proj, cfg.hiddenSize])
  if (cfg.bias) w.set('in_proj.bias', [d.proj])
  else w.set('z_bias', [d.inner])
  w.set('conv1d.weight', [d.conv, 1, cfg.convWidth])
  if (cfg.convBias) w.set('conv1d.bias', [d.conv])
  w.set('D', [cfg.vHeads])
  w.set('out_proj.weight', [cfg.hiddenSize, d.inner])
  if (cfg.bias) w.set('out_proj.bias', [cfg.hiddenSize])
  return w
}

/** Elements a sequence keeps between tokens: the SSM state and the conv window. */
export function discreteMamba2StateSize(cfg: DiscreteMamba2Config): MixerStateSize {
  return {ssm: cfg.vHeads * cfg.headDim * cfg.stateDim, other: (cfg.convWidth - 1) * discreteMamba2Dims(cfg).conv}
}

export function checkDiscreteMamba2Config(cfg: DiscreteMamba2Config): void {
  const dims = [cfg.hiddenSize, cfg.vHeads, cfg.qkHeads, cfg.headDim, cfg.stateDim, cfg.chunk]
  if (!dims.every((v) => Number.isInteger(v) && v > 0) || cfg.vHeads % cfg.qkHeads !== 0 || !(cfg.convWidth >= 2)) {
    throw new ShapeError(`discrete-mamba2: ${cfg.vHeads} value heads, ${cfg.qkHeads} B/C heads, head dim ${cfg.headDim}, state ${cfg.stateDim}, conv ${cfg.convWidth} do not fit`)
  }
}

interface Projected {
  x: Tensor
  B: Tensor
  C: Tensor
  z: Tensor
  dA: Tensor
  window?: Tensor
}

export class DiscreteMamba2 implements SsmMixer<ConvSsmState> {
  readonly kind = 'discrete-mamba2'
  readonly heads: number

  constructor(readonly config: DiscreteMamba2Config, readonly weights: ReadonlyMap<string, Tensor>, readonly backend: Backend) {
    checkDiscreteMamba2Config(config)
    checkMixerWeights(weights, discreteMamba2Weights(config), 'discrete-mamba2')
    this.heads = config.vHeads
  }

  private w(name: string): Tensor {
    return requireWeight(this.weights, name, this.kind)
  }

  /** u [B, T, C] -> the SSD operands, each [B, T, ...]. */
  private project(u: Tensor, window: Tensor | undefined, keepWindow: boolean): Projected {
    const {vHeads: Hv, qkHeads: Hqk, headDim: P, stateDim: N, convWidth: W} = this.config
    const d = discreteMamba2Dims(this.config)
    const [Bn, T] = u.shape
    const proj = linear(u, this.w('in_proj.weight'), this.weights.get('in_proj.bias'))
    // split, not narrows: the backward then writes each part's gradient into one tensor.
    const [convIn, z, aLog] = split(proj, 2, [d.conv, d.inner, Hv])
    const conv = causalConv(convIn, this.w('conv1d.weight').reshape([d.conv, W]), this.weights.get('conv1d.bias'), {window, keepWindow})
    const [x, B, C] = split(conv.y, 2, [d.inner, d.bc, d.bc])
    return {
      x: x.reshape([Bn, T, Hv, P]),
      B: B.reshape([Bn, T, Hqk, N]),
      C: C.reshape([Bn, T, Hqk, N]),
      z,
      dA: negSoftplus(aLog),
      window: conv.window,
    }
  }

  /** y [B, T, Hv, P] (D skip included) -> out_proj(y ⊙ silu(z + z_bias)) [B, T, C]; `hook` edits the gated heads. */
  private output(y: Tensor, z: Tensor, hook?: (y: Tensor) => Tensor): Tensor {
    const zBias = this.weights.get('z_bias')
    const gate = silu(zBias ? add(z, zBias) : z)
    return linear(headsHook(mul(y.reshape(z.shape), gate), y.shape, hook), this.w('out_proj.weight'), this.weights.get('out_proj.bias'))
  }

  forward(u: Tensor, opts: MixerForwardOptions<ConvSsmState> = {}): {out: Tensor; state?: ConvSsmState} {
    const p = this.project(u, opts.state?.convWindow, Boolean(opts.returnState))
    const {y, finalState} = ssdChunked(p.x, p.dA, p.B, p.C, {chunk: this.config.chunk, initialState: opts.state?.ssmState})
    const out = this.output(add(y, perHead(p.x, this.w('D'))), p.z, opts.headOutputs)
    return {out, state: opts.returnState ? {convWindow: p.window!, ssmState: finalState} : undefined}
  }

  step(u: Tensor, state: ConvSsmState): {out: Tensor; state: ConvSsmState} {
    const [Bn, C] = u.shape
    const {vHeads: Hv, qkHeads: Hqk, headDim: P, stateDim: N} = this.config
    const p = this.project(u.reshape([Bn, 1, C]), state.convWindow, true)
    const x = p.x.reshape([Bn, Hv, P])
    const next = ssdStep(x, p.dA.reshape([Bn, Hv]), p.B.reshape([Bn, Hqk, N]), p.C.reshape([Bn, Hqk, N]), state.ssmState)
    const y = add(next.y, perHead(x, this.w('D')))
    return {out: this.output(y.reshape([Bn, 1, Hv, P]), p.z).reshape([Bn, C]), state: {convWindow: p.window!, ssmState: next.state}}
  }

  /** T[b, h, t, s] = (C_t · B_s) · Π_{s<r<=t} sigmoid(−A_log_r), plus D_h on the diagonal. */
  mixingMatrix(u: Tensor): Tensor {
    const p = this.project(u, undefined, false)
    return addDiagonal(ssdMatrix(p.dA, p.B, p.C), this.w('D'))
  }

  forwardMaterialized(u: Tensor): Tensor {
    const p = this.project(u, undefined, false)
    const M = addDiagonal(ssdMatrix(p.dA, p.B, p.C), this.w('D'))
    return this.output(applyMatrix(M, p.x), p.z)
  }

  zeroState(batch: number): ConvSsmState {
    const {vHeads: Hv, headDim: P, stateDim: N, convWidth: W} = this.config
    return {
      convWindow: zeros(this.backend, [batch, W - 1, discreteMamba2Dims(this.config).conv]),
      ssmState: zeros(this.backend, [batch, Hv, P, N]),
    }
  }

  stateSize(): MixerStateSize {
    return discreteMamba2StateSize(this.config)
  }
}
