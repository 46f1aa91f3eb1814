/**
 * Mamba-3 as state-spaces/mamba computes it, transcribed into plain float64 loops (no hybridize
 * code), one token at a time:
 *  - the projection split and the B/C layout from mamba_ssm/modules/mamba3.py, Mamba3.forward
 *    and Mamba3._preprocess: in_proj(u) = z | x | B | C | dd_dt | dd_A | trap | angles, and
 *    B, C rearranged "(r g n) -> r g n" (rank outermost), RMS-normalised over n (B_norm, C_norm),
 *    A = clamp(−heavy_tail(dd_A), max=−A_floor), DT = softplus(dd_dt + dt_bias);
 *  - the recurrence from tests/ops/tilelang/test_mamba3_mimo.py, mamba3_MIMO_step_ref: groups
 *    repeated to heads "(h_bc g)" (head h reads group h / (H/G)), biases added per (head, rank),
 *    the angle state advanced by tanh(angle)·DT·π and pairs rotated: (2i, 2i+1) for SISO, (i, i + N/2)
 *    for MIMO, as Mamba3.step (rotate_pairwise = not is_mimo) and the TileLang MIMO kernel
 *    (mamba_ssm/ops/tilelang/mamba3/mamba3_mimo_fwd.py) do; the step reference's own default,
 *    rotate_pairwise, is a debugging convention (its chunk twin calls the halves "kernel-aligned"),
 *    S = αS + (1−λ)DTα Σ_r k_prev v_prevᵀ + λDT Σ_r k vᵀ, y_r = S q_r + D v_r with v_r = x ⊙ mimo_x_r,
 *    gated by silu(z ⊙ mimo_z_r) (after a per-head RMSNorm when is_outproj_norm), Σ_r mimo_o_r ⊙ y_r;
 *  - out_proj.
 * SISO (rank 1) is the same with mimo_x = mimo_z = mimo_o = 1 (Mamba3.step passes ones).
 */
export interface Mamba3RefConfig {
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
}

type Weights = ReadonlyMap<string, {data: ArrayLike<number>}>

const softplus = (v: number): number => (v > 20 ? v : Math.log1p(Math.exp(v)))
const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v))
const silu = (v: number): number => v * sigmoid(v)
/** mamba_ssm's heavy_tail_activation: 1 + x for x >= 0, 1 / (1 − x) below. */
const heavyTail = (v: number): number => (v >= 0 ? 1 + v : 1 / (1 - v))

function rmsnormInPlace(v: Float64Array, from: number, n: number, weight: ArrayLike<number>, wFrom: number, eps: number): void {
  let ms = 0
  for (let i = 0; i < n; i++) ms += v[from + i] ** 2
  const inv = 1 / Math.sqrt(ms / n + eps)
  for (let i = 0; i < n; i++) v[from + i] *= inv * weight[wFrom + i]
}

/** u [batch, T, hidden] (row-major) -> out [batch, T, hidden], stepping each sequence from zero state. */
export function mamba3ReferenceSteps(cfg: Mamba3RefConfig, weights: Weights, u: ArrayLike<number>, batch: number, T: number): Float64Array {
  const {hiddenSize: Cm, heads: H, headDim: P, stateDim: N, groups: G, mimoRank: R, rotaryAngles: S} = cfg
  const w = (name: string): ArrayLike<number> => {
    const t = weights.get(name)
    if (!t) throw new Error(`reference: no weight ${name}`)
    return t.data
  }
  const ones = new Float64Array(H * R * P).fill(1)
  const mimo = (name: string): ArrayLike<number> => (R === 1 ? ones : w(name))
  const inner = H * P
  const bc = R * G * N
  const proj = 2 * inner + 2 * bc + 3 * H + S
  const Win = w('in_proj.weight')
  const Wout = w('out_proj.weight')
  const out = new Float64Array(batch * T * Cm)

  for (let b = 0; b < batch; b++) {
    const ssm = new Float64Array(H * P * N)
    const kPrev = new Float64Array(H * R * N)
    const vPrev = new Float64Array(H * R * P)
    const angle = new Float64Array(H * S)
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * Cm
      const zx = new Float64Array(proj)
      for (let o = 0; o < proj; o++) {
        let acc = 0
        for (let i = 0; i < Cm; i++) acc += Win[o * Cm + i] * u[row + i]
        zx[o] = acc
      }
      const at = {z: 0, x: inner, B: 2 * inner, C: 2 * inner + bc, dt: 2 * inner + 2 * bc, A: 2 * inner + 2 * bc + H, trap: 2 * inner + 2 * bc + 2 * H, ang: 2 * inner + 2 * bc + 3 * H}
      // B and C as (r, g, n), each n-row RMS-normalised.
      const Bm = zx.slice(at.B, at.B + bc)
      const Cm_ = zx.slice(at.C, at.C + bc)
      for (let rg = 0; rg < R * G; rg++) {
        rmsnormInPlace(Bm, rg * N, N, w('B_norm.weight'), 0, cfg.normEps)
        rmsnormInPlace(Cm_, rg * N, N, w('C_norm.weight'), 0, cfg.normEps)
      }
      const y = new Float64Array(inner)
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / G))
        const dt = softplus(zx[at.dt + h] + w('dt_bias')[h])
        const A = Math.min(-heavyTail(zx[at.A + h]), -cfg.aFloor)
        const alpha = Math.exp(A * dt)
        const lambda = sigmoid(zx[at.trap + h])
        const beta = (1 - lambda) * dt * alpha
        const gamma = lambda * dt
        for (let s = 0; s < S; s++) angle[h * S + s] += Math.tanh(zx[at.ang + s]) * dt * Math.PI
        const k = new Float64Array(R * N)
        const q = new Float64Array(R * N)
        for (let r = 0; r < R; r++) {
          for (let n = 0; n < N; n++) {
            k[r * N + n] = Bm[(r * G + g) * N + n] + w('B_bias')[(h * R + r) * N + n]
            q[r * N + n] = Cm_[(r * G + g) * N + n] + w('C_bias')[(h * R + r) * N + n]
          }
          for (let s = 0; s < S; s++) {
            const c = Math.cos(angle[h * S + s])
            const sn = Math.sin(angle[h * S + s])
            const [i0, i1] = R === 1 ? [2 * s, 2 * s + 1] : [s, s + N / 2]
            for (const v of [k, q]) {
              const [a0, a1] = [v[r * N + i0], v[r * N + i1]]
              v[r * N + i0] = a0 * c - a1 * sn
              v[r * N + i1] = a0 * sn + a1 * c
            }
          }
        }
        const v = new Float64Array(R * P)
        for (let r = 0; r < R; r++) for (let p = 0; p < P; p++) v[r * P + p] = zx[at.x + h * P + p] * mimo('mimo_x')[(h * R + r) * P + p]
        for (let p = 0; p < P; p++) {
          for (let n = 0; n < N; n++) {
            let prev = 0
            let curr = 0
            for (let r = 0; r < R; r++) {
              prev += kPrev[(h * R + r) * N + n] * vPrev[(h * R + r) * P + p]
              curr += k[r * N + n] * v[r * P + p]
            }
            const i = (h * P + p) * N + n
            ssm[i] = alpha * ssm[i] + beta * prev + gamma * curr
          }
        }
        for (let r = 0; r < R; r++) {
          const yr = new Float64Array(P)
          for (let p = 0; p < P; p++) {
            let acc = 0
            for (let n = 0; n < N; n++) acc += ssm[(h * P + p) * N + n] * q[r * N + n]
            yr[p] = acc + w('D')[h] * v[r * P + p]
          }
          if (cfg.outNorm) rmsnormInPlace(yr, 0, P, w('norm.weight'), h * P, cfg.normEps)
          for (let p = 0; p < P; p++) {
            const zr = zx[at.z + h * P + p] * mimo('mimo_z')[(h * R + r) * P + p]
            y[h * P + p] += mimo('mimo_o')[(h * R + r) * P + p] * yr[p] * silu(zr)
          }
        }
        kPrev.set(k, h * R * N)
        vPrev.set(v, h * R * P)
      }
      for (let o = 0; o < Cm; o++) {
        let acc = 0
        for (let i = 0; i < inner; i++) acc += Wout[o * inner + i] * y[i]
        out[row + o] = acc
      }
    }
  }
  return out
}
