import type {TeacherConfig} from '../models/config.js'
import type {MixerConfig} from '../models/mixers/create.js'
import {discreteMamba2Dims, IDENTITY_GATE_BIAS} from '../models/mixers/discrete-mamba2.js'
import {mamba2Dims} from '../models/mixers/mamba2.js'
import {mamba3Dims} from '../models/mixers/mamba3.js'

/**
 * A mixer's weights born from one attention layer (goombalab/phi-mamba; jxiw/MambaInLlama): C from Q, B from K
 * (grouped key/value heads expanded where the mixer has a B per query head), x from V, out_proj
 * from O. SSM head h is teacher query head h; with a state size N below the head dim D, B and C take
 * the first N rows of each head (above D the rest is zero). The conv starts as the identity
 * ([0, .., 0, 1], zero bias), the z projection at zero with a bias that makes silu(z) ≈ 1, D at 1.
 * Decays start spread over the heads: discrete Mamba-2 per-token decays sigmoid(−A_log) with
 * memories 1/(1 − a) from 2 to 256 tokens; Mamba-2 with transformers' A = 1..H and Δ log-spaced
 * over [1e-3, 0.1]; Mamba-3 with A = −1 and the same Δ, λ = 1/2, no rotation, zero B/C biases,
 * each MIMO rank a copy of B and C with mimo_x = mimo_o = 1/R (so the ranks average to SISO).
 * Mamba-3 has no conv.
 * Letters: C hidden, D head dim, Hq query heads, Hkv key/value heads, N state size.
 */
export interface AttentionWeights {
  teacher: TeacherConfig
  /** [Hq·D, C] */
  q: Float32Array
  /** [Hkv·D, C] */
  k: Float32Array
  v: Float32Array
  /** [C, Hq·D] */
  o: Float32Array
  qBias?: Float32Array
  kBias?: Float32Array
  vBias?: Float32Array
  oBias?: Float32Array
}

/** Rows of a [rows, cols] matrix (or vector, cols = 1) assembled block by block. */
class RowWriter {
  readonly out: Float32Array
  private row = 0

  constructor(rows: number, readonly cols: number) {
    this.out = new Float32Array(rows * cols)
  }

  /** `count` rows from src starting at row `from`, then zero rows up to `width` (when wider). */
  copy(src: Float32Array | undefined, from: number, count: number, width = count): void {
    if (src) this.out.set(src.subarray(from * this.cols, (from + count) * this.cols), this.row * this.cols)
    this.row += width
  }

  fill(count: number, value: number): void {
    this.out.fill(value, this.row * this.cols, (this.row + count) * this.cols)
    this.row += count
  }
}

/** Per head h: `take` rows of head `pick(h)` of a [heads·D, cols] matrix, padded to `width` rows. */
function perHeadRows(w: RowWriter, src: Float32Array | undefined, heads: number, pick: (h: number) => number, D: number, width: number): void {
  const take = Math.min(width, D)
  for (let h = 0; h < heads; h++) w.copy(src, pick(h) * D, take, width)
}

const inverseSoftplus = (y: number): number => y + Math.log(-Math.expm1(-y))

function spread(h: number, heads: number): number {
  return heads === 1 ? 0 : h / (heads - 1)
}

export function ssmFromAttention(cfg: MixerConfig, local: string, a: AttentionWeights): Float32Array {
  const t = a.teacher
  const D = t.headDim
  const C = t.hiddenSize
  const kvOf = (h: number): number => Math.floor(h / (t.numHeads / t.numKvHeads))
  const self = (h: number): number => h
  const R = cfg.kind === 'mamba3' ? cfg.mimoRank : 1
  switch (local) {
    case 'conv1d.weight': {
      if (cfg.kind === 'mamba3') break
      const convDim = cfg.kind === 'discrete-mamba2' ? discreteMamba2Dims(cfg).conv : mamba2Dims(cfg).conv
      const out = new Float32Array(convDim * cfg.convWidth)
      for (let c = 0; c < convDim; c++) out[c * cfg.convWidth + cfg.convWidth - 1] = 1
      return out
    }
    case 'conv1d.bias':
      if (cfg.kind === 'mamba3') break
      return new Float32Array(cfg.kind === 'discrete-mamba2' ? discreteMamba2Dims(cfg).conv : mamba2Dims(cfg).conv)
    case 'B_bias': case 'C_bias': return new Float32Array(t.numHeads * R * cfg.stateDim)
    case 'B_norm.weight': case 'C_norm.weight': return new Float32Array(cfg.stateDim).fill(1)
    case 'mimo_x': case 'mimo_o': return new Float32Array(t.numHeads * R * D).fill(1 / R)
    case 'mimo_z': return new Float32Array(t.numHeads * R * D).fill(1)
    case 'D': return new Float32Array(t.numHeads).fill(1)
    case 'out_proj.weight': return a.o
    case 'out_proj.bias': return a.oBias ?? new Float32Array(C)
    case 'norm.weight': return new Float32Array(t.numHeads * D).fill(1)
    case 'z_bias': return new Float32Array(t.numHeads * D).fill(IDENTITY_GATE_BIAS)
    case 'A_log': return Float32Array.from({length: t.numHeads}, (_, h) => Math.log(h + 1))
    case 'dt_bias': return Float32Array.from({length: t.numHeads}, (_, h) => inverseSoftplus(Math.exp(Math.log(1e-3) + spread(h, t.numHeads) * Math.log(100))))
  }
  const bias = local === 'in_proj.bias'
  if (local !== 'in_proj.weight' && !bias) throw new Error(`no initialisation for ${cfg.kind} weight ${local}`)
  const cols = bias ? 1 : C
  const [q, k, v] = bias ? [a.qBias, a.kBias, a.vBias] : [a.q, a.k, a.v]
  const N = cfg.stateDim
  const Hq = t.numHeads
  if (cfg.kind === 'discrete-mamba2') {
    const w = new RowWriter(discreteMamba2Dims(cfg).proj, cols)
    perHeadRows(w, v, Hq, kvOf, D, D) // x
    perHeadRows(w, k, Hq, kvOf, D, N) // B
    perHeadRows(w, q, Hq, self, D, N) // C
    if (bias) {
      w.fill(Hq * D, IDENTITY_GATE_BIAS) // z
      for (let h = 0; h < Hq; h++) w.fill(1, -Math.log(2 ** (1 + 7 * spread(h, Hq)) - 1)) // A_log: memory 2..256 tokens
    }
    return w.out
  }
  if (cfg.kind === 'mamba2') {
    const w = new RowWriter(mamba2Dims(cfg).proj, cols)
    w.fill(Hq * D, bias ? IDENTITY_GATE_BIAS : 0) // z
    perHeadRows(w, v, t.numKvHeads, self, D, D) // x
    perHeadRows(w, k, t.numKvHeads, self, D, N) // B
    perHeadRows(w, q, Hq, self, D, N) // C
    return w.out // dt rows and bias stay zero: dt_bias sets Δ
  }
  // Mamba-3 with one B/C group per head, B and C rows in mamba_ssm's (rank, group, n) order;
  // dd_dt, dd_A, trap and angle rows stay zero.
  const w = new RowWriter(mamba3Dims(cfg).proj, cols)
  w.fill(Hq * D, bias ? IDENTITY_GATE_BIAS : 0) // z
  perHeadRows(w, v, Hq, kvOf, D, D) // x
  for (const [src, pick] of [[k, kvOf], [q, self]] as const) {
    for (let r = 0; r < R; r++) perHeadRows(w, src, Hq, pick, D, N) // B, then C
  }
  return w.out
}
