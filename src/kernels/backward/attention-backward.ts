import {bindings, flatDispatch, flatShader, NEG_INF, ROW_WG, versioned, type UniformFields} from '../wgsl.js'
import {flashSupported, type FlashTile} from '../attention-v2.js'
import type {AttentionParams} from '../attention.js'
import type {GpuProgram, Kernel} from '../kernel.js'
import {defaultDkvTile, defaultDqTile, defaultStatsTile, dkvV2, dqV2, statsV2} from './attention-backward-v2.js'

/**
 * Backward of causal GQA attention (attention.ts), recomputing the probabilities instead of
 * storing them. Per query row (b, h, t) with p = softmax(scale·q·kᵀ) and m the head's mask value:
 *   out = m Σ_s p_s v_s,   dP_s = m gy·v_s,   D = Σ_s p_s dP_s = gy·out,   dS_s = p_s (dP_s − D)
 *   dq = scale Σ_s dS_s k_s,   dk_s = scale Σ dS_s q,   dv_s = Σ m p_s gy
 * where dk and dv of a key/value head sum over every query row of every query head in its group.
 * Three kernels: row statistics (log-sum-exp and D), then dq (a thread per query row), then
 * dk and dv (a thread per key row). The head mask, when present, is the last input.
 * WGSL version 1 (here) reads every row from storage; version 2 (attention-backward-v2.ts) tiles
 * them through workgroup memory and is the default where it applies (d % 4 == 0, d <= 128).
 *   q, gy: [batch, tq, hq, d]   k, v: [batch, tk, hkv, d]   out: [batch, tq, hq, d]
 *   stats: [batch, hq, tq, 2]   (lse, D)
 */
export type AttentionBackwardParams = Omit<AttentionParams, 'returnProbs' | 'kvRows'>

/** Version 2 with its default tile where it applies, else version 1 (dev/kernels/attention-backward.ts forces either, and other tiles). */
function backwardGpu(v1: GpuProgram<AttentionBackwardParams>, v2: (tileOf: (p: AttentionBackwardParams) => FlashTile) => GpuProgram<AttentionBackwardParams>, defaultTile: (p: AttentionBackwardParams) => FlashTile): GpuProgram<AttentionBackwardParams> {
  return versioned({1: v1, 2: v2(defaultTile)}, (p) => (flashSupported(p) ? 2 : 1))
}

const uniforms = (p: AttentionBackwardParams): UniformFields => [
  ['batch', p.batch],
  ['tq', p.tq],
  ['tk', p.tk],
  ['hq', p.hq],
  ['hkv', p.hkv],
  ['scale', {f: p.scale}],
]

const dot = (a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, d: number): number => {
  let s = 0
  for (let i = 0; i < d; i++) s += a[ao + i] * b[bo + i]
  return s
}

/** WGSL dot products of head rows: q·k and gy·v, `d` values from two offsets. */
const wgslDots = (d: number): string => `
fn qDotK(qo: u32, ko: u32) -> f32 {
  var s = 0.0;
  for (var c = 0u; c < ${d}u; c++) { s += q[qo + c] * k[ko + c]; }
  return s;
}
fn gyDotV(qo: u32, vo: u32) -> f32 {
  var s = 0.0;
  for (var c = 0u; c < ${d}u; c++) { s += gy[qo + c] * v[vo + c]; }
  return s;
}`

const backwardInputs = (p: AttentionBackwardParams): string[] =>
  ['q', 'k', 'v', 'gy', 'stats', ...(p.headMask ? ['mask'] : [])].map((name) => `${name}: array<f32>`)
const maskOf = (p: AttentionBackwardParams): string => (p.headMask ? 'mask[h]' : '1.0')

export const statsV1: GpuProgram<AttentionBackwardParams> = {
  key: (p) => `d${p.d}`,
  code: (p) =>
    flatShader(bindings(['q: array<f32>', 'k: array<f32>', 'out: array<f32>', 'gy: array<f32>'], ['stats: array<f32>'], uniforms(p)), `
  let t = i % u.tq;
  let h = (i / u.tq) % u.hq;
  let b = i / (u.tq * u.hq);
  let g = h / (u.hq / u.hkv);
  let qo = ((b * u.tq + t) * u.hq + h) * ${p.d}u;
  var mx = ${NEG_INF};
  var sum = 0.0;
  for (var s = 0u; s <= t + u.tk - u.tq; s++) {
    let ko = ((b * u.tk + s) * u.hkv + g) * ${p.d}u;
    var dt = 0.0;
    for (var c = 0u; c < ${p.d}u; c++) { dt += q[qo + c] * k[ko + c]; }
    let score = dt * u.scale;
    if (score > mx) { sum = sum * exp(mx - score) + 1.0; mx = score; } else { sum += exp(score - mx); }
  }
  var dd = 0.0;
  for (var c = 0u; c < ${p.d}u; c++) { dd += gy[qo + c] * out[qo + c]; }
  stats[2u * i] = mx + log(sum);
  stats[2u * i + 1u] = dd;`, {count: 'u.batch * u.hq * u.tq', size: ROW_WG}),
  dispatch: (p) => flatDispatch(p.batch * p.hq * p.tq, uniforms(p), ROW_WG),
}

/** q, k, out, gy -> stats [batch, hq, tq, 2]: each query row's log-sum-exp and gy·out. */
export const attentionBackwardStats: Kernel<AttentionBackwardParams> = {
  name: 'attention_backward_stats',
  cpu: ({batch, tq, tk, hq, hkv, d, scale}, [q, k, out, gy], [stats]) => {
    const group = hq / hkv
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < hq; h++) {
        const g = Math.floor(h / group)
        for (let t = 0; t < tq; t++) {
          const qo = ((b * tq + t) * hq + h) * d
          let max = -Infinity
          let sum = 0
          for (let s = 0; s <= t + tk - tq; s++) {
            const score = dot(q, qo, k, ((b * tk + s) * hkv + g) * d, d) * scale
            if (score > max) {
              sum = sum * Math.exp(max - score) + 1
              max = score
            } else {
              sum += Math.exp(score - max)
            }
          }
          const r = ((b * hq + h) * tq + t) * 2
          stats[r] = max + Math.log(sum)
          stats[r + 1] = dot(gy, qo, out, qo, d)
        }
      }
    }
  },
  gpu: backwardGpu(statsV1, statsV2, defaultStatsTile),
}

export const dqV1: GpuProgram<AttentionBackwardParams> = {
  key: (p) => `d${p.d}${p.headMask ? 'm' : ''}`,
  code: (p) =>
    flatShader(`${bindings(backwardInputs(p), ['dq: array<f32>'], uniforms(p))}${wgslDots(p.d)}`, `
  let h = i % u.hq;
  let t = (i / u.hq) % u.tq;
  let b = i / (u.hq * u.tq);
  let g = h / (u.hq / u.hkv);
  let qo = i * ${p.d}u;
  let r = 2u * ((b * u.hq + h) * u.tq + t);
  let lse = stats[r];
  let dd = stats[r + 1u];
  let m = ${maskOf(p)};
  var acc = array<f32, ${p.d}>();
  for (var s = 0u; s <= t + u.tk - u.tq; s++) {
    let ko = ((b * u.tk + s) * u.hkv + g) * ${p.d}u;
    let pr = exp(qDotK(qo, ko) * u.scale - lse);
    let dS = pr * (m * gyDotV(qo, ko) - dd);
    for (var c = 0u; c < ${p.d}u; c++) { acc[c] += dS * k[ko + c]; }
  }
  for (var c = 0u; c < ${p.d}u; c++) { dq[qo + c] = acc[c] * u.scale; }`, {count: 'u.batch * u.tq * u.hq', size: ROW_WG}),
  dispatch: (p) => flatDispatch(p.batch * p.tq * p.hq, uniforms(p), ROW_WG),
}

/** q, k, v, gy, stats[, mask] -> dq [batch, tq, hq, d]. */
export const attentionBackwardDq: Kernel<AttentionBackwardParams> = {
  name: 'attention_backward_dq',
  cpu: ({batch, tq, tk, hq, hkv, d, scale}, [q, k, v, gy, stats, mask], [dq]) => {
    const group = hq / hkv
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < hq; h++) {
        const g = Math.floor(h / group)
        const m = mask ? mask[h] : 1
        for (let t = 0; t < tq; t++) {
          const qo = ((b * tq + t) * hq + h) * d
          const r = ((b * hq + h) * tq + t) * 2
          const acc = new Float64Array(d)
          for (let s = 0; s <= t + tk - tq; s++) {
            const ko = ((b * tk + s) * hkv + g) * d
            const p = Math.exp(dot(q, qo, k, ko, d) * scale - stats[r])
            const dS = p * (m * dot(gy, qo, v, ko, d) - stats[r + 1])
            for (let c = 0; c < d; c++) acc[c] += dS * k[ko + c]
          }
          for (let c = 0; c < d; c++) dq[qo + c] = acc[c] * scale
        }
      }
    }
  },
  gpu: backwardGpu(dqV1, dqV2, defaultDqTile),
}

export const dkvV1: GpuProgram<AttentionBackwardParams> = {
  key: (p) => `d${p.d}${p.headMask ? 'm' : ''}`,
  code: (p) =>
    flatShader(`${bindings(backwardInputs(p), ['dk: array<f32>', 'dv: array<f32>'], uniforms(p))}${wgslDots(p.d)}`, `
  let g = i % u.hkv;
  let s = (i / u.hkv) % u.tk;
  let b = i / (u.hkv * u.tk);
  let group = u.hq / u.hkv;
  let ko = i * ${p.d}u;
  var accK = array<f32, ${p.d}>();
  var accV = array<f32, ${p.d}>();
  for (var h = g * group; h < (g + 1u) * group; h++) {
    let m = ${maskOf(p)};
    for (var t = max(s + u.tq, u.tk) - u.tk; t < u.tq; t++) {
      let qo = ((b * u.tq + t) * u.hq + h) * ${p.d}u;
      let r = 2u * ((b * u.hq + h) * u.tq + t);
      let pr = exp(qDotK(qo, ko) * u.scale - stats[r]);
      let dS = pr * (m * gyDotV(qo, ko) - stats[r + 1u]);
      for (var c = 0u; c < ${p.d}u; c++) {
        accK[c] += dS * q[qo + c];
        accV[c] += m * pr * gy[qo + c];
      }
    }
  }
  for (var c = 0u; c < ${p.d}u; c++) {
    dk[ko + c] = accK[c] * u.scale;
    dv[ko + c] = accV[c];
  }`, {count: 'u.batch * u.tk * u.hkv', size: ROW_WG}),
  dispatch: (p) => flatDispatch(p.batch * p.tk * p.hkv, uniforms(p), ROW_WG),
}

/** q, k, v, gy, stats[, mask] -> dk, dv [batch, tk, hkv, d]. */
export const attentionBackwardDkv: Kernel<AttentionBackwardParams> = {
  name: 'attention_backward_dkv',
  cpu: ({batch, tq, tk, hq, hkv, d, scale}, [q, k, v, gy, stats, mask], [dk, dv]) => {
    const group = hq / hkv
    const offset = tk - tq
    for (let b = 0; b < batch; b++) {
      for (let s = 0; s < tk; s++) {
        for (let g = 0; g < hkv; g++) {
          const ko = ((b * tk + s) * hkv + g) * d
          const accK = new Float64Array(d)
          const accV = new Float64Array(d)
          for (let h = g * group; h < (g + 1) * group; h++) {
            const m = mask ? mask[h] : 1
            for (let t = Math.max(0, s - offset); t < tq; t++) {
              const qo = ((b * tq + t) * hq + h) * d
              const r = ((b * hq + h) * tq + t) * 2
              const p = Math.exp(dot(q, qo, k, ko, d) * scale - stats[r])
              const dS = p * (m * dot(gy, qo, v, ko, d) - stats[r + 1])
              for (let c = 0; c < d; c++) {
                accK[c] += dS * q[qo + c]
                accV[c] += m * p * gy[qo + c]
              }
            }
          }
          for (let c = 0; c < d; c++) {
            dk[ko + c] = accK[c] * scale
            dv[ko + c] = accV[c]
          }
        }
      }
    }
  },
  gpu: backwardGpu(dkvV1, dkvV2, defaultDkvTile),
}
