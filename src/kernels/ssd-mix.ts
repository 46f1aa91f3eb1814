import type {Kernel} from './kernel.js'
import {chunkCount, type ChunkShape, type Operand} from './ssd-chunk.js'
import {bindings, uniformWords, type UniformFields} from './wgsl.js'

/**
 * The output step of the chunked SSD, generic enough to serve the forward and three gradients.
 * For head h and row r in chunk c (letters as in ssd-chunk.ts; Acs the in-chunk log-decay cumsum):
 *   out[b, r, h, j] = Σ_{s in chunk c, s <= r} (Q_r · K_s) · exp(Acs_r - Acs_s) · V_s[j] + exp(Acs_r) · Σ_i Q_r[i] · S_c[i, j]
 * or, when `anticausal`, over s >= r with exp(Acs_s - Acs_r), and exp(Acs_last - Acs_r) on the state term.
 *   Q, K: [B, T, q.heads, q.dim] (k.dim = q.dim), V: [B, T, v.heads, v.dim], S: [B, H, K, ...] per chunk,
 *   stored [q.dim, v.dim] ('ij') or [v.dim, q.dim] ('ji'); out: [B, T, H, v.dim].
 * Uses (x, dy [.., H, P]; B, C [.., G, N]; Hin = state entering each chunk, D = gradient of the state
 * leaving it, both [B, H, K, P, N]):
 *   y  = mix(Q=C,  K=B,  V=x,  S=Hin 'ji')                 (diagonal blocks + state-to-output)
 *   dC = mix(Q=dy, K=x,  V=B,  S=Hin 'ij')                 per head, summed over a group after
 *   dx = mix(Q=B,  K=C,  V=dy, S=D 'ji', anticausal)
 *   dB = mix(Q=x,  K=dy, V=C,  S=D 'ij', anticausal)       per head
 * WGSL: a workgroup computes 16 rows x 64 output columns of one (b, h, chunk), walking the
 * chunk's columns 16 at a time: scores Q·Kᵀ through workgroup memory, then scores · V.
 */
export interface ChunkMixParams extends ChunkShape {
  q: Operand
  k: Operand
  v: Operand
  anticausal: boolean
  stateLayout: 'ij' | 'ji'
}

export const ssdChunkMix: Kernel<ChunkMixParams> = {
  name: 'ssd_chunk_mix',
  cpu: (p, [Qm, Km, Vm, acs, S], [out]) => {
    const {batch, seq: T, heads: H, chunk, q, k, v, anticausal} = p
    const K = chunkCount(p)
    const acc = new Float64Array(v.dim)
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < H; h++) {
        const qh = Math.floor(h / (H / q.heads))
        const kh = Math.floor(h / (H / k.heads))
        const vh = Math.floor(h / (H / v.heads))
        const A = (t: number): number => acs[(b * H + h) * T + t]
        const qAt = (t: number, i: number): number => Qm[((b * T + t) * q.heads + qh) * q.dim + i]
        for (let c = 0; c < K; c++) {
          const start = c * chunk
          const end = Math.min(start + chunk, T)
          const state = (b * H + h) * K + c
          for (let r = start; r < end; r++) {
            const scale = Math.exp(anticausal ? A(end - 1) - A(r) : A(r))
            for (let j = 0; j < v.dim; j++) {
              let sum = 0
              for (let i = 0; i < q.dim; i++) {
                const at = p.stateLayout === 'ij' ? (state * q.dim + i) * v.dim + j : (state * v.dim + j) * q.dim + i
                sum += qAt(r, i) * S[at]
              }
              acc[j] = scale * sum
            }
            const [from, to] = anticausal ? [r, end] : [start, r + 1]
            for (let s = from; s < to; s++) {
              let score = 0
              for (let i = 0; i < q.dim; i++) score += qAt(r, i) * Km[((b * T + s) * k.heads + kh) * k.dim + i]
              score *= Math.exp(anticausal ? A(s) - A(r) : A(r) - A(s))
              for (let j = 0; j < v.dim; j++) acc[j] += score * Vm[((b * T + s) * v.heads + vh) * v.dim + j]
            }
            for (let j = 0; j < v.dim; j++) out[((b * T + r) * H + h) * v.dim + j] = acc[j]
          }
        }
      }
    }
  },
  gpu: {
    key: (p) => `${p.anticausal ? 'anti' : 'causal'},${p.stateLayout}`,
    code: (p) => chunkMixWgsl(p),
    dispatch: (p) => ({
      workgroups: [Math.ceil(p.v.dim / COLS) * Math.ceil(p.chunk / ROWS), chunkCount(p), p.batch * p.heads],
      uniforms: uniformWords(chunkMixFields(p)),
    }),
  },
}

const ROWS = 16
const COLS = 64

const chunkMixFields = (p: ChunkMixParams): UniformFields => [
  ['chunks', chunkCount(p)],
  ['seq', p.seq],
  ['heads', p.heads],
  ['chunk', p.chunk],
  ['qHeads', p.q.heads],
  ['kHeads', p.k.heads],
  ['vHeads', p.v.heads],
  ['qDim', p.q.dim],
  ['vDim', p.v.dim],
]

function chunkMixWgsl(p: ChunkMixParams): string {
  const anti = p.anticausal
  // 'ji' states are contiguous along i: let neighbouring threads read neighbouring i.
  const stateLoad =
    p.stateLayout === 'ij'
      ? `let ii = e / ${COLS}u; let jj = e % ${COLS}u;
      if (i0 + ii < u.qDim && j0 + jj < u.vDim) { w = S[(state * u.qDim + i0 + ii) * u.vDim + j0 + jj]; }
      Ws[ii * ${COLS}u + jj] = w;`
      : `let ii = e % 16u; let jj = e / 16u;
      if (i0 + ii < u.qDim && j0 + jj < u.vDim) { w = S[(state * u.vDim + j0 + jj) * u.qDim + i0 + ii]; }
      Ws[ii * ${COLS}u + jj] = w;`
  return `${bindings(['Qm: array<f32>', 'Km: array<f32>', 'Vm: array<f32>', 'acs: array<f32>', 'S: array<f32>'], ['out: array<f32>'], chunkMixFields(p))}
var<workgroup> Qs: array<f32, 256>;
var<workgroup> Ks: array<f32, 256>;
var<workgroup> Sc: array<f32, 256>;
var<workgroup> Ws: array<f32, ${16 * COLS}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let rowTiles = (u.chunk + ${ROWS - 1}u) / ${ROWS}u;
  let rt = wid.x % rowTiles;
  let j0 = (wid.x / rowTiles) * ${COLS}u;
  let c = wid.y;
  let bh = wid.z;
  let b = bh / u.heads;
  let h = bh % u.heads;
  let qh = h / (u.heads / u.qHeads);
  let kh = h / (u.heads / u.kHeads);
  let vh = h / (u.heads / u.vHeads);
  let start = c * u.chunk;
  let end = min(start + u.chunk, u.seq);
  if (start + rt * ${ROWS}u >= end) { return; }
  let state = bh * u.chunks + c;
  let ty = lid / 16u;
  let tx = lid % 16u;
  let r = start + rt * ${ROWS}u + ty;
  let rowValid = r < end;
  let Ar = acs[bh * u.seq + min(r, end - 1u)];
  let last = acs[bh * u.seq + end - 1u];
  var acc: array<f32, 4>;

  // State term: Q_r · S_c, scaled by the decay between the state and row r.
  for (var i0 = 0u; i0 < u.qDim; i0 += 16u) {
    var qv = 0.0;
    if (rowValid && i0 + tx < u.qDim) { qv = Qm[((b * u.seq + r) * u.qHeads + qh) * u.qDim + i0 + tx]; }
    Qs[lid] = qv;
    for (var e = lid; e < ${16 * COLS}u; e += 256u) {
      var w = 0.0;
      ${stateLoad}
    }
    workgroupBarrier();
    for (var ii = 0u; ii < 16u; ii++) {
      let qi = Qs[ty * 16u + ii];
      for (var n = 0u; n < 4u; n++) { acc[n] += qi * Ws[ii * ${COLS}u + tx + 16u * n]; }
    }
    workgroupBarrier();
  }
  let scale = exp(${anti ? 'last - Ar' : 'Ar'});
  for (var n = 0u; n < 4u; n++) { acc[n] *= scale; }

  // Within the chunk: column tiles of 16 times on the ${anti ? 'anti' : ''}causal side of this row tile.
  let colTiles = (end - start + 15u) / 16u;
  for (var st = ${anti ? 'rt' : '0u'}; st < ${anti ? 'colTiles' : 'rt + 1u'}; st++) {
    let s0 = start + st * 16u;
    var score = 0.0;
    for (var i0 = 0u; i0 < u.qDim; i0 += 16u) {
      var qv = 0.0;
      var kv = 0.0;
      if (i0 + tx < u.qDim) {
        if (rowValid) { qv = Qm[((b * u.seq + r) * u.qHeads + qh) * u.qDim + i0 + tx]; }
        if (s0 + ty < end) { kv = Km[((b * u.seq + s0 + ty) * u.kHeads + kh) * u.qDim + i0 + tx]; }
      }
      Qs[lid] = qv;
      Ks[lid] = kv;
      workgroupBarrier();
      for (var ii = 0u; ii < 16u; ii++) { score += Qs[ty * 16u + ii] * Ks[tx * 16u + ii]; }
      workgroupBarrier();
    }
    let s = s0 + tx;
    let valid = rowValid && s < end && ${anti ? 's >= r' : 's <= r'};
    let As = acs[bh * u.seq + min(s, end - 1u)];
    Sc[lid] = select(0.0, score * exp(${anti ? 'As - Ar' : 'Ar - As'}), valid);
    for (var e = lid; e < ${16 * COLS}u; e += 256u) {
      let ss = e / ${COLS}u;
      let jj = e % ${COLS}u;
      var w = 0.0;
      if (s0 + ss < end && j0 + jj < u.vDim) { w = Vm[((b * u.seq + s0 + ss) * u.vHeads + vh) * u.vDim + j0 + jj]; }
      Ws[e] = w;
    }
    workgroupBarrier();
    for (var ss = 0u; ss < 16u; ss++) {
      let sc = Sc[ty * 16u + ss];
      for (var n = 0u; n < 4u; n++) { acc[n] += sc * Ws[ss * ${COLS}u + tx + 16u * n]; }
    }
    workgroupBarrier();
  }

  if (rowValid) {
    for (var n = 0u; n < 4u; n++) {
      let j = j0 + tx + 16u * n;
      if (j < u.vDim) { out[((b * u.seq + r) * u.heads + h) * u.vDim + j] = acc[n]; }
    }
  }
}`
}
