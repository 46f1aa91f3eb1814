import type {Backend} from '../../backend/backend.js'
import {expand, narrow, pad, permute, repeatInterleave} from '../../engine/layout-ops.js'
import {heavyTailDecay, rotatePairs} from '../../engine/mixer-ops.js'
import {add, exp, linear, matmul, mul, neg, rmsnorm, scale, sigmoid, silu, softplus, sub, sum, tanh} from '../../engine/ops.js'
import {cumsum, ssdChunked, ssdMatrix} from '../../engine/ssm-ops.js'
import {fromArray, keep, zeros, type Tensor} from '../../engine/tensor.js'
import {ShapeError} from '../../errors.js'
import {checkMixerWeights, requireWeight, type MixerForwardOptions, type MixerStateSize, type SsmMixer} from './mixer.js'
import {addDiagonal, applyMatrix, headsHook, scaleColumns} from './ssd-parts.js'

/**
 * Mamba-3 (Lahoti et al. 2026, arXiv 2603.15569; state-spaces/mamba), SISO (R = 1) and MIMO of rank R:
 *   in_proj(u) = z | x | B | C | dd_dt | dd_A | trap | angles         (no conv)
 *   Δ = softplus(dd_dt + dt_bias), A = −max(f(dd_A), A_floor) (heavy-tailed f), α = exp(AΔ), λ = sigmoid(trap)
 *   B, C laid out (rank, group, n) as mamba_ssm's; RMSNorm(raw) + bias per head and rank, rotated by θ_t = Σ_{r<=t} π·tanh(angles_r)·Δ_r
 *   h_t = α_t h_{t−1} + (1−λ_t)Δ_t α_t Σ_r v_{t−1,r} k_{t−1,r}ᵀ + λ_tΔ_t Σ_r v_{t,r} k_{t,r}ᵀ   (exponential-trapezoidal)
 *   y_{t,r} = h_t q_{t,r} + D v_{t,r},  v_r = x ⊙ mimo_x_r;  y = Σ_r mimo_o_r ⊙ (y_r ⊙ silu(z ⊙ mimo_z_r))
 * (with `outNorm`, y_r is RMS-normalised per head before the gate). Rotation pairs are (2i, 2i+1) for
 * SISO and (i, i + N/2) for MIMO, as mamba_ssm's kernels pair them.
 * `bias` adds in_proj / out_proj biases, which the reference has not, so that a rewrite can start
 * the z gate as the identity.
 *
 * The chunked form runs the SSD kernels: the trapezoid's two terms fold into one input scale
 * λ_sΔ_s + (1−λ_{s+1})Δ_{s+1} minus a diagonal correction, and rank pairs (r, r') become
 * H·R² SSD heads, so MIMO costs R² times SISO (a simple form, not the fused kernel of the paper).
 * The step form is the recurrence itself, written with matmuls: an independent check.
 * Letters: B batch, T time, C hidden, H heads, P head dim, N state, G B/C groups, R rank, S angles, E = H·R².
 */
export interface Mamba3Config {
  kind: 'mamba3'
  hiddenSize: number
  heads: number
  headDim: number
  stateDim: number
  groups: number
  mimoRank: number
  rotaryAngles: number
  aFloor: number
  outNorm: boolean
  normEps: number
  bias: boolean
  chunk: number
}

/** Decoding state: the SSM state, and what the trapezoid and the rotation carry from the last token. */
export interface Mamba3State {
  /** [B, H, P, N] */
  ssmState: Tensor
  /** Last token's rotated keys [B, H, R, N]. */
  prevK: Tensor
  /** Last token's x [B, H, P]. */
  prevX: Tensor
  /** Accumulated rotation angles [B, H, S]. */
  angle: Tensor
}

export function mamba3Dims(cfg: Mamba3Config): {inner: number; bc: number; proj: number} {
  const inner = cfg.heads * cfg.headDim
  const bc = cfg.groups * cfg.mimoRank * cfg.stateDim
  return {inner, bc, proj: 2 * inner + 2 * bc + 3 * cfg.heads + cfg.rotaryAngles}
}

export function mamba3Weights(cfg: Mamba3Config): Map<string, number[]> {
  const {heads: H, headDim: P, stateDim: N, mimoRank: R} = cfg
  const d = mamba3Dims(cfg)
  const w = new Map<string, number[]>()
  w.set('in_proj.weight', [d.proj, cfg.hiddenSize])
  if (cfg.bias) w.set('in_proj.bias', [d.proj])
  w.set('dt_bias', [H])
  w.set('B_bias', [H, R, N])
  w.set('C_bias', [H, R, N])
  w.set('B_norm.weight', [N])
  w.set('C_norm.weight', [N])
  w.set('D', [H])
  if (R > 1) for (const name of ['mimo_x', 'mimo_z', 'mimo_o']) w.set(name, [H, R, P])
  if (cfg.outNorm) w.set('norm.weight', [d.inner])
  w.set('out_proj.weight', [cfg.hiddenSize, d.inner])
  if (cfg.bias) w.set('out_proj.bias', [cfg.hiddenSize])
  return w
}

export function mamba3StateSize(cfg: Mamba3Config): MixerStateSize {
  const {heads: H, headDim: P, stateDim: N, mimoRank: R, rotaryAngles: S} = cfg
  return {ssm: H * P * N, other: H * S + H * R * N + H * P}
}

/** Rotary angles for a state size: half the state rotates, in pairs (Mamba-3's rope_fraction 0.5), at least one pair. */
export function defaultRotaryAngles(stateDim: number): number {
  return Math.max(1, Math.floor(Math.floor(stateDim / 2) / 2))
}

export function checkMamba3Config(cfg: Mamba3Config): void {
  const dims = [cfg.hiddenSize, cfg.heads, cfg.headDim, cfg.stateDim, cfg.groups, cfg.mimoRank, cfg.chunk]
  // MIMO pairs n with n + N/2, so its state size is even.
  const ok = dims.every((v) => Number.isInteger(v) && v > 0) && cfg.heads % cfg.groups === 0 && Number.isInteger(cfg.rotaryAngles) && cfg.rotaryAngles >= 1 && 2 * cfg.rotaryAngles <= cfg.stateDim && (cfg.mimoRank === 1 || cfg.stateDim % 2 === 0)
  if (!ok) throw new ShapeError(`mamba3: ${cfg.heads} heads of ${cfg.headDim}, ${cfg.groups} groups, state ${cfg.stateDim}, rank ${cfg.mimoRank}, ${cfg.rotaryAngles} angles do not fit${cfg.mimoRank > 1 && cfg.stateDim % 2 ? ' (MIMO needs an even state size)' : ''}`)
}

interface Projected {
  x: Tensor
  z: Tensor
  /** Rotated keys and queries [B, T, H, R, N]. */
  k: Tensor
  q: Tensor
  dA: Tensor
  /** λΔ and (1−λ)Δ, [B, T, H]. */
  gamma: Tensor
  carry: Tensor
  theta: Tensor
}

export class Mamba3 implements SsmMixer<Mamba3State> {
  readonly kind = 'mamba3'
  readonly heads: number
  private readonly onesP?: Tensor
  private readonly eyeR?: Tensor

  constructor(readonly config: Mamba3Config, readonly weights: ReadonlyMap<string, Tensor>, readonly backend: Backend) {
    checkMamba3Config(config)
    checkMixerWeights(weights, mamba3Weights(config), 'mamba3')
    const R = config.mimoRank
    this.heads = config.heads * R * R
    // Constants the mixer owns, so kept out of any caller's scope.
    if (config.outNorm) this.onesP = keep(fromArray(backend, new Float32Array(config.headDim).fill(1), [config.headDim]))
    const eye = new Float32Array(R * R)
    for (let r = 0; r < R; r++) eye[r * R + r] = 1
    this.eyeR = keep(fromArray(backend, eye, [R * R]))
  }

  private w(name: string): Tensor {
    return requireWeight(this.weights, name, this.kind)
  }

  private project(u: Tensor, state: Mamba3State | undefined): Projected {
    const cfg = this.config
    const {heads: H, headDim: P, stateDim: N, groups: G, mimoRank: R, rotaryAngles: S} = cfg
    const d = mamba3Dims(cfg)
    const [Bn, T] = u.shape
    const proj = linear(u, this.w('in_proj.weight'), this.weights.get('in_proj.bias'))
    let at = 0
    const piece = (n: number): Tensor => narrow(proj, 2, (at += n) - n, n)
    const z = piece(d.inner).reshape([Bn, T, H, P])
    const x = piece(d.inner).reshape([Bn, T, H, P])
    // mamba_ssm lays B and C out as (rank, group, n) ("b l (r g n)"); head h reads group h / (H/G).
    const bc = (raw: Tensor, side: 'B' | 'C'): Tensor => {
      const byGroup = permute(raw.reshape([Bn, T, R, G, N]), [0, 1, 3, 2, 4])
      return add(repeatInterleave(rmsnorm(byGroup, this.w(`${side}_norm.weight`), cfg.normEps), 2, H / G), this.w(`${side}_bias`))
    }
    const kRaw = bc(piece(d.bc), 'B')
    const qRaw = bc(piece(d.bc), 'C')
    const delta = softplus(add(piece(H), this.w('dt_bias')))
    const dA = mul(heavyTailDecay(piece(H), cfg.aFloor), delta)
    const trap = piece(H)
    const omega = scale(tanh(piece(S)), Math.PI)
    let theta = cumsum(mul(expand(omega, 2, H), expand(delta, 3, S)), 1)
    if (state) theta = add(theta, expand(state.angle, 1, T))
    return {
      x, z, dA, theta,
      k: rotatePairs(this.pairHalves(kRaw), theta),
      q: rotatePairs(this.pairHalves(qRaw), theta),
      gamma: mul(sigmoid(trap), delta),
      carry: mul(sigmoid(neg(trap)), delta),
    }
  }

  /**
   * MIMO rotates n with n + N/2 (mamba_ssm's TileLang kernel and Mamba3.step; SISO rotates 2i with
   * 2i+1): interleaving the halves, n -> 2n and n + N/2 -> 2n + 1, makes those pairs adjacent for
   * rotatePairs. Keys and queries are only ever dotted with each other, so the order of n is free.
   */
  private pairHalves(t: Tensor): Tensor {
    if (this.config.mimoRank === 1) return t
    const N = this.config.stateDim
    const lead = t.shape.slice(0, -1)
    const axes = lead.map((_, i) => i)
    return permute(t.reshape([...lead, 2, N / 2]), [...axes, lead.length + 1, lead.length]).reshape([...lead, N])
  }

  /** v_r = x ⊙ mimo_x_r: [..., H, P] -> [..., H, R, P]. */
  private values(x: Tensor): Tensor {
    const R = this.config.mimoRank
    const shape = [...x.shape.slice(0, -1), R, this.config.headDim]
    return R === 1 ? x.reshape(shape) : mul(expand(x, x.rank - 1, R), this.w('mimo_x'))
  }

  /** Per-rank-pair SSD outputs [B, T, E, P] -> Σ_r' mimo_x_r' ⊙ Y_(r, r'): [B, T, H, R, P]. */
  private combineRanks(Y: Tensor): Tensor {
    const {heads: H, headDim: P, mimoRank: R} = this.config
    const [Bn, T] = Y.shape
    if (R === 1) return Y.reshape([Bn, T, H, 1, P])
    return sum(mul(Y.reshape([Bn, T, H, R, R, P]), expand(this.w('mimo_x'), 1, R)), 4)
  }

  /** x-like [B, T, H, F] (F = P or N) to rank-pair heads, copying over r' (`over` 'inner') or over r ('outer'). */
  private toPairs(t: Tensor, over: 'inner' | 'outer'): Tensor {
    const R = this.config.mimoRank
    const [Bn, T, H] = t.shape
    const f = t.shape.at(-1)!
    if (R === 1) return t.reshape([Bn, T, H, f])
    const withRank = t.rank === 5 ? t : expand(t, 3, R)
    return expand(withRank, over === 'inner' ? 4 : 3, R).reshape([Bn, T, H * R * R, f])
  }

  private pairDecay(dA: Tensor): Tensor {
    const R = this.config.mimoRank
    const [Bn, T, H] = dA.shape
    return R === 1 ? dA : expand(dA, 3, R * R).reshape([Bn, T, H * R * R])
  }

  /** (1−λ_{t+1})Δ_{t+1}, zero at the last position (its next token is not in this window). */
  private nextCarry(carry: Tensor): Tensor {
    const T = carry.shape[1]
    return T === 1 ? zeros(this.backend, carry.shape) : pad(narrow(carry, 1, 1, T - 1), 1, 0, T)
  }

  /** q_{t,r} · k_{t,r'} per position: [B, T, H, R, R']. */
  private pairDots(q: Tensor, k: Tensor): Tensor {
    const [Bn, T, H, R, N] = q.shape
    return matmul(q.reshape([Bn * T * H, R, N]), k.reshape([Bn * T * H, R, N]), {transB: true}).reshape([Bn, T, H, R, R])
  }

  /** y_r [B, T, H, R, P] -> out_proj(Σ_r mimo_o_r ⊙ (norm(y_r) ⊙ silu(z ⊙ mimo_z_r))) [B, T, C]; `hook` edits the merged heads. */
  private output(yr: Tensor, z: Tensor, hook?: (y: Tensor) => Tensor): Tensor {
    const {heads: H, headDim: P, mimoRank: R} = this.config
    const [Bn, T] = z.shape
    let y = yr
    if (this.onesP) y = mul(rmsnorm(y, this.onesP, this.config.normEps), expand(this.w('norm.weight').reshape([H, P]), 1, R))
    const zr = R === 1 ? z.reshape([Bn, T, H, 1, P]) : mul(expand(z, 3, R), this.w('mimo_z'))
    const gated = mul(y, silu(zr))
    const merged = R === 1 ? gated.reshape([Bn, T, H, P]) : sum(mul(gated, this.w('mimo_o')), 3)
    return linear(headsHook(merged, [Bn, T, H, P], hook).reshape([Bn, T, H * P]), this.w('out_proj.weight'), this.weights.get('out_proj.bias'))
  }

  /** D ⊙ v_r: [B, T, H, R, P]. */
  private skip(v: Tensor): Tensor {
    const {heads: H, headDim: P, mimoRank: R} = this.config
    return mul(v, expand(this.w('D'), 1, R * P).reshape([H, R, P]))
  }

  forward(u: Tensor, opts: MixerForwardOptions<Mamba3State> = {}): {out: Tensor; state?: Mamba3State} {
    const {heads: H, headDim: P, stateDim: N, mimoRank: R} = this.config
    const [Bn, T] = u.shape
    const state = opts.state
    const p = this.project(u, state)
    const next = this.nextCarry(p.carry)
    const xs = mul(p.x, expand(add(p.gamma, next), 3, P))
    const {y: Y, finalState} = ssdChunked(this.toPairs(xs, 'inner'), this.pairDecay(p.dA), this.toPairs(p.k, 'outer'), this.toPairs(p.q, 'inner'), {chunk: this.config.chunk})
    const v = this.values(p.x)
    // The scale gave position t its next token's carry term too; take it back off the diagonal.
    const corr = matmul(this.pairDots(p.q, p.k).reshape([Bn * T * H, R, R]), v.reshape([Bn * T * H, R, P])).reshape([Bn, T, H, R, P])
    let yr = add(sub(this.combineRanks(Y), mul(corr, expand(next, 3, R * P).reshape([Bn, T, H, R, P]))), this.skip(v))
    const hIn = state ? this.entering(state, p.carry) : undefined
    if (hIn) yr = add(yr, this.fromInitial(hIn, p.q, p.dA))
    const out = this.output(yr, p.z, opts.headOutputs)
    if (!opts.returnState) return {out}
    let h = this.combineState(finalState)
    if (hIn) h = add(h, mul(hIn, expand(exp(sum(p.dA, 1)), 2, P * N).reshape([Bn, H, P, N])))
    const last = (t: Tensor, shape: number[]): Tensor => narrow(t, 1, T - 1, 1).reshape(shape)
    return {out, state: {ssmState: h, prevK: last(p.k, [Bn, H, R, N]), prevX: last(p.x, [Bn, H, P]), angle: last(p.theta, [Bn, H, this.config.rotaryAngles])}}
  }

  /** The state the window starts from: h plus the last token's pending trapezoid term (1−λ_0)Δ_0 Σ_r v_r k_rᵀ. */
  private entering(state: Mamba3State, carry: Tensor): Tensor {
    const {headDim: P, stateDim: N} = this.config
    const [Bn, H] = state.prevX.shape
    const w0 = expand(narrow(carry, 1, 0, 1).reshape([Bn, H]), 2, P * N).reshape([Bn, H, P, N])
    return add(state.ssmState, mul(w0, this.outer(state.prevX, state.prevK)))
  }

  /** Σ_r v_r k_rᵀ: x [B, H, P], k [B, H, R, N] -> [B, H, P, N]. */
  private outer(x: Tensor, k: Tensor): Tensor {
    const {headDim: P, stateDim: N, mimoRank: R} = this.config
    const [Bn, H] = x.shape
    return matmul(this.values(x).reshape([Bn * H, R, P]), k.reshape([Bn * H, R, N]), {transA: true}).reshape([Bn, H, P, N])
  }

  /** What a starting state h [B, H, P, N] adds to y_{t,r}: exp(Σ_{s<=t} dA_s) · h q_{t,r}. */
  private fromInitial(h: Tensor, q: Tensor, dA: Tensor): Tensor {
    const [Bn, T, H, R, N] = q.shape
    const P = this.config.headDim
    const qh = permute(q, [0, 2, 1, 3, 4]).reshape([Bn * H, T * R, N])
    const hq = permute(matmul(qh, h.reshape([Bn * H, P, N]), {transB: true}).reshape([Bn, H, T, R, P]), [0, 2, 1, 3, 4])
    return mul(hq, expand(exp(cumsum(dA, 1)), 3, R * P).reshape([Bn, T, H, R, P]))
  }

  /** Rank-pair SSD states [B, E, P, N] -> h = Σ_r' mimo_x_r' ⊙ S_(0, r'): [B, H, P, N]. */
  private combineState(S: Tensor): Tensor {
    const {heads: H, headDim: P, stateDim: N, mimoRank: R} = this.config
    const Bn = S.shape[0]
    if (R === 1) return S
    const first = narrow(S.reshape([Bn, H, R, R, P, N]), 2, 0, 1).reshape([Bn, H, R, P, N])
    return sum(mul(first, expand(this.w('mimo_x'), 3, N)), 2)
  }

  step(u: Tensor, state: Mamba3State): {out: Tensor; state: Mamba3State} {
    const {headDim: P, stateDim: N, mimoRank: R, rotaryAngles: S} = this.config
    const [Bn, C] = u.shape
    const H = this.config.heads
    const p = this.project(u.reshape([Bn, 1, C]), state)
    const perState = (t: Tensor): Tensor => expand(t.reshape([Bn, H]), 2, P * N).reshape([Bn, H, P, N])
    const alpha = exp(p.dA)
    const x = p.x.reshape([Bn, H, P])
    const k = p.k.reshape([Bn, H, R, N])
    const h = add(
      add(mul(perState(alpha), state.ssmState), mul(perState(mul(p.carry, alpha)), this.outer(state.prevX, state.prevK))),
      mul(perState(p.gamma), this.outer(x, k)),
    )
    const read = matmul(p.q.reshape([Bn * H, R, N]), h.reshape([Bn * H, P, N]), {transB: true}).reshape([Bn, 1, H, R, P])
    const yr = add(read, this.skip(this.values(p.x)))
    const out = this.output(yr, p.z).reshape([Bn, C])
    return {out, state: {ssmState: h, prevK: k, prevX: x, angle: p.theta.reshape([Bn, H, S])}}
  }

  /**
   * Per rank pair (h, r, r'), E = H·R² channels: M[t, s] = (q_{t,r} · k_{s,r'}) · exp(Σ_{s<i<=t} dA_i)
   * · (λ_sΔ_s + (1−λ_{s+1})Δ_{s+1}) for s < t, (q_{t,r} · k_{t,r'}) λ_tΔ_t on the diagonal, plus D_h
   * where r = r'. For R = 1 that is one T x T matrix per head; then y_r = Σ_r' mimo_x_r' ⊙ M_(r, r') x.
   */
  mixingMatrix(u: Tensor): Tensor {
    return this.matrixOf(this.project(u, undefined))
  }

  forwardMaterialized(u: Tensor): Tensor {
    const p = this.project(u, undefined)
    return this.output(this.combineRanks(applyMatrix(this.matrixOf(p), this.toPairs(p.x, 'inner'))), p.z)
  }

  private matrixOf(p: Projected): Tensor {
    const {heads: H, mimoRank: R} = this.config
    const [Bn, T] = p.dA.shape
    const E = H * R * R
    const next = this.nextCarry(p.carry)
    const M = scaleColumns(ssdMatrix(this.pairDecay(p.dA), this.toPairs(p.k, 'outer'), this.toPairs(p.q, 'inner')), this.pairDecay(add(p.gamma, next)))
    const overcount = permute(mul(this.pairDots(p.q, p.k).reshape([Bn, T, E]), this.pairDecay(next)), [0, 2, 1])
    const eye = new Float32Array(T * T)
    for (let t = 0; t < T; t++) eye[t * T + t] = 1
    const diagonal = mul(expand(overcount, 3, T), fromArray(this.backend, eye, [T, T]))
    return addDiagonal(sub(M, diagonal), mul(expand(this.w('D'), 1, R * R), this.eyeR!).reshape([E]))
  }

  zeroState(batch: number): Mamba3State {
    const {heads: H, headDim: P, stateDim: N, mimoRank: R, rotaryAngles: S} = this.config
    const z = (shape: number[]): Tensor => zeros(this.backend, shape)
    return {ssmState: z([batch, H, P, N]), prevK: z([batch, H, R, N]), prevX: z([batch, H, P]), angle: z([batch, H, S])}
  }

  stateSize(): MixerStateSize {
    return mamba3StateSize(this.config)
  }
}
