import type {GpuProgram, Kernel} from './kernel.js'
import {chunkCount, type ChunkShape, type Operand} from './ssd-chunk.js'
import {COLS, ROWS, SLAB, chunkMixFields, MIX_LOAD_V, MIX_STORE, MIX_TILE_COORDS} from './ssd-mix-tile.js'
import {chunkMixV2Wgsl} from './ssd-mix-v2.js'
import {bindings, uniformWords, versioned} from './wgsl.js'

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
 * WGSL version 1 (version 2, the default, is in ssd-mix-v2.ts): a workgroup computes 64 rows x 64
 * output columns of one (b, h, chunk), 4 x 4 a thread, walking the chunk's times in slabs of 16: decayed scores Q·Kᵀ into workgroup memory, then
 * scores · V. Workgroup memory stays under 16 KiB (WebGPU's default limit).
 */
export interface ChunkMixParams extends ChunkShape {
  q: Operand
  k: Operand
  v: Operand
  anticausal: boolean
  stateLayout: 'ij' | 'ji'
  /** WGSL version (default 2, ssd-mix-v2.ts); 1 is kept for the benchmark history. */
  version?: 1 | 2
}

/**
 * The reference loop, which the CPU backend's fast path (backend/cpu-ssd/chunk-mix-fast.ts: the
 * same sums in the same order, over gathered rows) is tested against.
 */
export function chunkMixCpu(p: ChunkMixParams, [Qm, Km, Vm, acs, S]: ArrayLike<number>[], [out]: Float32Array[]): void {
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
}

export const ssdChunkMix: Kernel<ChunkMixParams> = {
  name: 'ssd_chunk_mix',
  cpu: (p, inputs, outputs) => chunkMixCpu(p, inputs, outputs as Float32Array[]),
  gpu: versioned<ChunkMixParams>({1: chunkMixProgram(chunkMixWgsl), 2: chunkMixProgram(chunkMixV2Wgsl)}, (p) => p.version ?? 2),
}

/** Both versions tile the output alike: 64 rows x 64 columns of one (b, h, chunk) a workgroup. */
function chunkMixProgram(code: (p: ChunkMixParams) => string): GpuProgram<ChunkMixParams> {
  return {
    key: (p) => `${p.anticausal ? 'anti' : 'causal'},${p.stateLayout}`,
    code,
    dispatch: (p) => ({
      workgroups: [Math.ceil(p.v.dim / COLS) * Math.ceil(p.chunk / ROWS), chunkCount(p), p.batch * p.heads],
      uniforms: uniformWords(chunkMixFields(p)),
    }),
  }
}


function chunkMixWgsl(p: ChunkMixParams): string {
  const anti = p.anticausal
  // 'ji' states are contiguous along i: let neighbouring threads read neighbouring i.
  const stateCoords = p.stateLayout === 'ij' ? `let ii = e / ${COLS}u; let jj = e % ${COLS}u;` : `let ii = e % ${SLAB}u; let jj = e / ${SLAB}u;`
  const stateIndex = p.stateLayout === 'ij' ? '(state * u.qDim + i0 + ii) * u.vDim + j0 + jj' : '(state * u.vDim + j0 + jj) * u.qDim + i0 + ii'
  return `${bindings(['Qm: array<f32>', 'Km: array<f32>', 'Vm: array<f32>', 'acs: array<f32>', 'S: array<f32>'], ['out: array<f32>'], chunkMixFields(p))}
// Qt: 64 rows x 16 features of Q; Kt: 16 times x 16 features of K; Wt: 16 x 64 of the state or of V;
// Sc: 64 rows x 16 times of decayed scores.
var<workgroup> Qt: array<f32, ${ROWS * SLAB}>;
var<workgroup> Kt: array<f32, ${SLAB * SLAB}>;
var<workgroup> Wt: array<f32, ${SLAB * COLS}>;
var<workgroup> Sc: array<f32, ${ROWS * SLAB}>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
${MIX_TILE_COORDS}
  var Ar = array<f32, 4>();
  for (var a = 0u; a < 4u; a++) { Ar[a] = acs[bh * u.seq + min(r0 + ty + 16u * a, end - 1u)]; }
  var acc = array<f32, 16>();

  // State term: Q_r · S_c over the features, in slabs of 16.
  for (var i0 = 0u; i0 < u.qDim; i0 += ${SLAB}u) {
    for (var e = li; e < ${ROWS * SLAB}u; e += 256u) {
      let rr = e / ${SLAB}u;
      let ii = e % ${SLAB}u;
      var v = 0.0;
      if (r0 + rr < end && i0 + ii < u.qDim) { v = Qm[((b * u.seq + r0 + rr) * u.qHeads + qh) * u.qDim + i0 + ii]; }
      Qt[e] = v;
    }
    for (var e = li; e < ${SLAB * COLS}u; e += 256u) {
      ${stateCoords}
      var w = 0.0;
      if (i0 + ii < u.qDim && j0 + jj < u.vDim) { w = S[${stateIndex}]; }
      Wt[ii * ${COLS}u + jj] = w;
    }
    workgroupBarrier();
    for (var ii = 0u; ii < ${SLAB}u; ii++) {
      var w = array<f32, 4>();
      for (var q = 0u; q < 4u; q++) { w[q] = Wt[ii * ${COLS}u + tx + 16u * q]; }
      for (var a = 0u; a < 4u; a++) {
        let qa = Qt[(ty + 16u * a) * ${SLAB}u + ii];
        for (var q = 0u; q < 4u; q++) { acc[a * 4u + q] += qa * w[q]; }
      }
    }
    workgroupBarrier();
  }
  for (var a = 0u; a < 4u; a++) {
    let scale = exp(${anti ? 'last - Ar[a]' : 'Ar[a]'});
    for (var q = 0u; q < 4u; q++) { acc[a * 4u + q] *= scale; }
  }

  // Within the chunk: slabs of 16 times on the ${anti ? 'anti' : ''}causal side of the row tile.
  let slabs = (end - start + ${SLAB - 1}u) / ${SLAB}u;
  let firstSlab = ${anti ? `(r0 - start) / ${SLAB}u` : '0u'};
  let lastSlab = ${anti ? 'slabs' : `min(slabs, (r0 - start + ${ROWS}u) / ${SLAB}u)`};
  for (var sl = firstSlab; sl < lastSlab; sl++) {
    let s0 = start + sl * ${SLAB}u;
    // Scores of rows ty + 16a against time s0 + tx. The explicit zero value matters: on the H200
    // (Dawn, Vulkan) a declaration without an initializer inside the loop kept the last slab's scores.
    var sc = array<f32, 4>();
    for (var i0 = 0u; i0 < u.qDim; i0 += ${SLAB}u) {
      for (var e = li; e < ${ROWS * SLAB}u; e += 256u) {
        let rr = e / ${SLAB}u;
        let ii = e % ${SLAB}u;
        var v = 0.0;
        if (r0 + rr < end && i0 + ii < u.qDim) { v = Qm[((b * u.seq + r0 + rr) * u.qHeads + qh) * u.qDim + i0 + ii]; }
        Qt[e] = v;
      }
      var kv = 0.0;
      if (s0 + ty < end && i0 + tx < u.qDim) { kv = Km[((b * u.seq + s0 + ty) * u.kHeads + kh) * u.qDim + i0 + tx]; }
      Kt[ty * ${SLAB}u + tx] = kv;
      workgroupBarrier();
      for (var ii = 0u; ii < ${SLAB}u; ii++) {
        let k = Kt[tx * ${SLAB}u + ii];
        for (var a = 0u; a < 4u; a++) { sc[a] += Qt[(ty + 16u * a) * ${SLAB}u + ii] * k; }
      }
      workgroupBarrier();
    }
    let s = s0 + tx;
    let As = acs[bh * u.seq + min(s, end - 1u)];
    for (var a = 0u; a < 4u; a++) {
      let r = r0 + ty + 16u * a;
      let valid = r < end && s < end && ${anti ? 's >= r' : 's <= r'};
      Sc[(ty + 16u * a) * ${SLAB}u + tx] = select(0.0, sc[a] * exp(${anti ? 'As - Ar[a]' : 'Ar[a] - As'}), valid);
    }
${MIX_LOAD_V}
    workgroupBarrier();
    for (var ss = 0u; ss < ${SLAB}u; ss++) {
      var w = array<f32, 4>();
      for (var q = 0u; q < 4u; q++) { w[q] = Wt[ss * ${COLS}u + tx + 16u * q]; }
      for (var a = 0u; a < 4u; a++) {
        let sa = Sc[(ty + 16u * a) * ${SLAB}u + ss];
        for (var q = 0u; q < 4u; q++) { acc[a * 4u + q] += sa * w[q]; }
      }
    }
    workgroupBarrier();
  }

${MIX_STORE}
}`
}
