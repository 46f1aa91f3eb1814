import type {Backend} from '../../backend/backend.js'
import {expand, repeatInterleave, split} from '../../engine/layout-ops.js'
import {add, exp, linear, mul, neg, rmsnorm, silu, softplus} from '../../engine/ops.js'
import {ssdChunked, ssdMatrix, ssdStep} from '../../engine/ssm-ops.js'
import {fromArray, keep, zeros, type Tensor} from '../../engine/tensor.js'
import {ShapeError} from '../../errors.js'
import {checkMixerWeights, requireWeight, type ConvSsmState, type MixerForwardOptions, type MixerStateSize, type SsmMixer} from './mixer.js'
import {addDiagonal, applyMatrix, causalConv, headsHook, perHead, scaleColumns} from './ssd-parts.js'

/**
 * Mamba-2 (Dao and Gu 2024, arXiv 2405.21060; MambaInLlama's attention-to-SSM init, jxiw/MambaInLlama), in the layout of transformers' Mamba2Mixer and of
 * MambaInLlama:
 *   in_proj(u) = z | [x | B | C] (through the causal conv, then SiLU) | dt
 *   Δ = softplus(dt + dt_bias),  A = −exp(A_log),  h_t = exp(Δ_t A)·h_{t−1} + Δ_t x_t B_tᵀ
 *   y_t = h_t C_t + D ⊙ x_t,  out = out_proj(RMSNorm_grouped(y ⊙ silu(z)) · norm.weight)
 * x has `xHeads` heads and B `bGroups` groups, repeated up to H like grouped-query attention
 * (MambaInLlama takes x from v_proj and B from k_proj); transformers' layout is xHeads = H and
 * bGroups = cGroups = n_groups.
 * Letters: B batch, T time, C hidden, H heads, P head dim, N state size, G groups.
 */
export interface Mamba2Config {
  kind: 'mamba2'
  hiddenSize: number
  heads: number
  headDim: number
  stateDim: number
  xHeads: number
  bGroups: number
  cGroups: number
  /** Groups of the gated RMSNorm (1 = over all of y, as transformers' pure-PyTorch path does). */
  normGroups: number
  normEps: number
  convWidth: number
  convBias: boolean
  bias: boolean
  chunk: number
}

export function mamba2Dims(cfg: Mamba2Config): {inner: number; x: number; b: number; c: number; conv: number; proj: number} {
  const inner = cfg.heads * cfg.headDim
  const x = cfg.xHeads * cfg.headDim
  const b = cfg.bGroups * cfg.stateDim
  const c = cfg.cGroups * cfg.stateDim
  const conv = x + b + c
  return {inner, x, b, c, conv, proj: inner + conv + cfg.heads}
}

export function mamba2Weights(cfg: Mamba2Config): Map<string, number[]> {
  const d = mamba2Dims(cfg)
  const w = new Map<string, number[]>()
  w.set('in_proj.weight', [d.proj, cfg.hiddenSize])
  if (cfg.bias) w.set('in_proj.bias', [d.proj])
  w.set('conv1d.weight', [d.conv, 1, cfg.convWidth])
  if (cfg.convBias) w.set('conv1d.bias', [d.conv])
  w.set('dt_bias', [cfg.heads])
  w.set('A_log', [cfg.heads])
  w.set('D', [cfg.heads])
  w.set('norm.weight', [d.inner])
  w.set('out_proj.weight', [cfg.hiddenSize, d.inner])
  if (cfg.bias) w.set('out_proj.bias', [cfg.hiddenSize])
  return w
}

/** Elements a sequence keeps between tokens: the SSM state and the conv window. */
export function mamba2StateSize(cfg: Mamba2Config): MixerStateSize {
  return {ssm: cfg.heads * cfg.headDim * cfg.stateDim, other: (cfg.convWidth - 1) * mamba2Dims(cfg).conv}
}

export function checkMamba2Config(cfg: Mamba2Config): void {
  const dims = [cfg.hiddenSize, cfg.heads, cfg.headDim, cfg.stateDim, cfg.xHeads, cfg.bGroups, cfg.cGroups, cfg.normGroups, cfg.chunk]
  const G = Math.max(cfg.bGroups, cfg.cGroups)
  const ok =
    dims.every((v) => Number.isInteger(v) && v > 0) &&
    cfg.heads % cfg.xHeads === 0 &&
    G % cfg.bGroups === 0 &&
    G % cfg.cGroups === 0 &&
    cfg.heads % G === 0 &&
    (cfg.heads * cfg.headDim) % cfg.normGroups === 0 &&
    cfg.convWidth >= 2
  if (!ok) {
    throw new ShapeError(`mamba2: ${cfg.heads} heads of ${cfg.headDim}, x heads ${cfg.xHeads}, B groups ${cfg.bGroups}, C groups ${cfg.cGroups}, norm groups ${cfg.normGroups}, state ${cfg.stateDim}, conv ${cfg.convWidth} do not fit`)
  }
}

interface Projected {
  /** [B, T, H, P], before the Δ scaling. */
  x: Tensor
  /** Δ [B, T, H] */
  delta: Tensor
  dA: Tensor
  B: Tensor
  C: Tensor
  z: Tensor
  window?: Tensor
}

export class Mamba2 implements SsmMixer<ConvSsmState> {
  readonly kind = 'mamba2'
  readonly heads: number
  private readonly normOnes?: Tensor

  constructor(readonly config: Mamba2Config, readonly weights: ReadonlyMap<string, Tensor>, readonly backend: Backend) {
    checkMamba2Config(config)
    checkMixerWeights(weights, mamba2Weights(config), 'mamba2')
    this.heads = config.heads
    const group = (config.heads * config.headDim) / config.normGroups
    // A constant the mixer owns, so kept out of any caller's scope.
    if (config.normGroups > 1) this.normOnes = keep(fromArray(backend, new Float32Array(group).fill(1), [group]))
  }

  private w(name: string): Tensor {
    return requireWeight(this.weights, name, this.kind)
  }

  private project(u: Tensor, window: Tensor | undefined, keepWindow: boolean): Projected {
    const cfg = this.config
    const {heads: H, headDim: P, stateDim: N, convWidth: W} = cfg
    const d = mamba2Dims(cfg)
    const [Bn, T] = u.shape
    const G = Math.max(cfg.bGroups, cfg.cGroups)
    const proj = linear(u, this.w('in_proj.weight'), this.weights.get('in_proj.bias'))
    // split, not narrows: the backward then writes each part's gradient into one tensor.
    const [z, convIn, dt] = split(proj, 2, [d.inner, d.conv, H])
    const conv = causalConv(convIn, this.w('conv1d.weight').reshape([d.conv, W]), this.weights.get('conv1d.bias'), {window, keepWindow})
    const [xs, Bs, Cs] = split(silu(conv.y), 2, [d.x, d.b, d.c])
    const x = repeatInterleave(xs.reshape([Bn, T, cfg.xHeads, P]), 2, H / cfg.xHeads)
    const B = repeatInterleave(Bs.reshape([Bn, T, cfg.bGroups, N]), 2, G / cfg.bGroups)
    const C = repeatInterleave(Cs.reshape([Bn, T, cfg.cGroups, N]), 2, G / cfg.cGroups)
    const delta = softplus(add(dt, this.w('dt_bias')))
    const dA = mul(delta, neg(exp(this.w('A_log'))))
    return {x, delta, dA, B, C, z, window: conv.window}
  }

  /** y [B, T, H, P] (D skip included) -> out_proj(gated RMSNorm(y, z)) [B, T, C]; `hook` edits the normed heads. */
  private output(y: Tensor, z: Tensor, hook?: (y: Tensor) => Tensor): Tensor {
    const gated = mul(y.reshape(z.shape), silu(z))
    const eps = this.config.normEps
    const normed = this.normOnes
      ? mul(rmsnorm(gated.reshape([...z.shape.slice(0, -1), this.config.normGroups, this.normOnes.numel]), this.normOnes, eps).reshape(z.shape), this.w('norm.weight'))
      : rmsnorm(gated, this.w('norm.weight'), eps)
    return linear(headsHook(normed, y.shape, hook), this.w('out_proj.weight'), this.weights.get('out_proj.bias'))
  }

  forward(u: Tensor, opts: MixerForwardOptions<ConvSsmState> = {}): {out: Tensor; state?: ConvSsmState} {
    const p = this.project(u, opts.state?.convWindow, Boolean(opts.returnState))
    const xDelta = mul(p.x, expand(p.delta, 3, this.config.headDim))
    const {y, finalState} = ssdChunked(xDelta, p.dA, p.B, p.C, {chunk: this.config.chunk, initialState: opts.state?.ssmState})
    const out = this.output(add(y, perHead(p.x, this.w('D'))), p.z, opts.headOutputs)
    return {out, state: opts.returnState ? {convWindow: p.window!, ssmState: finalState} : undefined}
  }

  step(u: Tensor, state: ConvSsmState): {out: Tensor; state: ConvSsmState} {
    const [Bn, C] = u.shape
    const {heads: H, headDim: P, stateDim: N} = this.config
    const G = Math.max(this.config.bGroups, this.config.cGroups)
    const p = this.project(u.reshape([Bn, 1, C]), state.convWindow, true)
    const x = p.x.reshape([Bn, H, P])
    const xDelta = mul(x, expand(p.delta.reshape([Bn, H]), 2, P))
    const next = ssdStep(xDelta, p.dA.reshape([Bn, H]), p.B.reshape([Bn, G, N]), p.C.reshape([Bn, G, N]), state.ssmState)
    const y = add(next.y, perHead(x, this.w('D')))
    return {out: this.output(y.reshape([Bn, 1, H, P]), p.z).reshape([Bn, C]), state: {convWindow: p.window!, ssmState: next.state}}
  }

  /** M[b, h, t, s] = (C_t · B_s) · exp(Σ_{s<r<=t} Δ_r A) · Δ_s, plus D_h on the diagonal: y = M x before the gate. */
  mixingMatrix(u: Tensor): Tensor {
    return this.matrixOf(this.project(u, undefined, false))
  }

  forwardMaterialized(u: Tensor): Tensor {
    const p = this.project(u, undefined, false)
    return this.output(applyMatrix(this.matrixOf(p), p.x), p.z)
  }

  private matrixOf(p: Projected): Tensor {
    return addDiagonal(scaleColumns(ssdMatrix(p.dA, p.B, p.C), p.delta), this.w('D'))
  }

  zeroState(batch: number): ConvSsmState {
    const {heads: H, headDim: P, stateDim: N, convWidth: W} = this.config
    return {convWindow: zeros(this.backend, [batch, W - 1, mamba2Dims(this.config).conv]), ssmState: zeros(this.backend, [batch, H, P, N])}
  }

  stateSize(): MixerStateSize {
    return mamba2StateSize(this.config)
  }
}
