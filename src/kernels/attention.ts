import {attentionDecode} from './attention-decode.js'
import {defaultForwardTile, flashForward, flashSupported} from './attention-v2.js'
import {widenHalf} from './half-precision.js'
import {grid1d, type GpuProgram, type Kernel} from './kernel.js'
import {bindings, uniformWords, versioned, wgsl, type UniformFields} from './wgsl.js'

/**
 * Causal softmax attention with grouped-query heads.
 *   q:     [batch, tq, hq, d]
 *   k, v:  [batch, tk, hkv, d]      query head h reads key/value head floor(h / (hq / hkv))
 *   mask:  [hq] (when `headMask`)   multiplies each head's output: 0 ablates the head
 *   out:   [batch, tq, hq, d]
 *   probs: [batch, hq, tq, tk] (when `returnProbs`), zero above the causal diagonal
 * Query row t sits at absolute position t + (tk - tq), so decoding with a cache of past keys
 * (tk > tq) uses the same kernel. A preallocated cache holds `kvRows` >= tk rows per batch entry
 * (k, v: [batch, kvRows, hkv, d]), of which the first tk are attended.
 */
export interface AttentionParams {
  batch: number
  tq: number
  tk: number
  hq: number
  hkv: number
  d: number
  scale: number
  headMask: boolean
  returnProbs: boolean
  /** Rows per batch entry in k and v (the cache capacity); tk when absent. */
  kvRows?: number
  /**
   * k and v hold f16 (a half-precision KV cache, storage dtype f16), widened as they are read; versions 2
   * and 3 read them on the GPU, so d % 4 == 0 and d <= 128 (`flashSupported`), and no probabilities.
   */
  kvDtype?: 'f16'
}

/**
 * The inputs with an f16 k and v widened to f32 and the params without `kvDtype`: what the CPU's
 * reference and fast path compute on (a temporary copy; the cache stays at 2 bytes a value).
 */
export function widenedKv<A extends ArrayLike<number>>(p: AttentionParams, inputs: A[]): {p: AttentionParams; inputs: (A | Float32Array)[]} {
  if (!p.kvDtype) return {p, inputs}
  const {kvDtype, ...f32Params} = p
  const [q, k, v, ...rest] = inputs
  return {p: f32Params, inputs: [q, widenHalf(kvDtype, k as unknown as Uint16Array), widenHalf(kvDtype, v as unknown as Uint16Array), ...rest]}
}

/** The reference loop (Float64 softmax), which the CPU backend's fast path (backend/cpu-attention/attention-fast.ts) is tested against. */
export function attentionCpu(p: AttentionParams, inputs: ArrayLike<number>[], outputs: Float32Array[]): void {
  const [q, k, v] = inputs
  const mask = p.headMask ? inputs[3] : undefined
  const [out, probs] = outputs
  const {batch, tq, tk, hq, hkv, d, scale} = p
  const group = hq / hkv
  const offset = tk - tq
  const kvRows = p.kvRows ?? tk
  const row = new Float64Array(tk)
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < hq; h++) {
      const g = Math.floor(h / group)
      for (let t = 0; t < tq; t++) {
        const qo = ((b * tq + t) * hq + h) * d
        const last = t + offset
        let max = -Infinity
        for (let s = 0; s <= last; s++) {
          const ko = ((b * kvRows + s) * hkv + g) * d
          let dot = 0
          for (let i = 0; i < d; i++) dot += q[qo + i] * k[ko + i]
          row[s] = dot * scale
          if (row[s] > max) max = row[s]
        }
        let sum = 0
        for (let s = 0; s <= last; s++) {
          row[s] = Math.exp(row[s] - max)
          sum += row[s]
        }
        const headScale = mask ? mask[h] : 1
        const oo = ((b * tq + t) * hq + h) * d
        for (let i = 0; i < d; i++) out[oo + i] = 0
        for (let s = 0; s <= last; s++) {
          const w = row[s] / sum
          const vo = ((b * kvRows + s) * hkv + g) * d
          for (let i = 0; i < d; i++) out[oo + i] += w * v[vo + i]
        }
        for (let i = 0; i < d; i++) out[oo + i] *= headScale
        if (probs) {
          const po = ((b * hq + h) * tq + t) * tk
          for (let s = 0; s < tk; s++) probs[po + s] = s <= last ? row[s] / sum : 0
        }
      }
    }
  }
}

export const attention: Kernel<AttentionParams> = {
  name: 'attention',
  cpu: (params, given, outputs) => {
    const {p, inputs} = widenedKv(params, given)
    attentionCpu(p, inputs, outputs as Float32Array[])
  },
  // WGSL version 1, one workgroup per query row, is the only one with `returnProbs`; one query row (a decode step)
  // takes version 3, whose threads split the keys (attention-decode.ts); more rows take version 2's flash tiles.
  gpu: versioned<AttentionParams>(
    {1: attentionV1(), 2: flashForward(defaultForwardTile), 3: attentionDecode},
    (p) => (p.returnProbs || !flashSupported(p) ? 1 : p.tq === 1 ? 3 : 2),
  ),
}

/** Threads per query row, and how many scores a row keeps in workgroup memory at once. */
const ATTN_WG = 128
const CHUNK = 2048

const attentionUniforms = (p: AttentionParams): UniformFields => [
  ['rows', p.batch * p.tq * p.hq],
  ['tq', p.tq],
  ['tk', p.tk],
  ['kvRows', p.kvRows ?? p.tk],
  ['hq', p.hq],
  ['hkv', p.hkv],
  ['d', p.d],
  ['scale', {f: p.scale}],
]

/** Head dims are compiled in classes of ATTN_WG (one pipeline serves d = 1..128, another 129..256). */
const dCapacity = (d: number): number => Math.max(1, Math.ceil(d / ATTN_WG)) * ATTN_WG

/**
 * Version 1: one workgroup per query row (b, t, h). Pass 1: each thread scores its keys (s = lid, lid + WG,
 * ...) keeping a running max and sum of exponentials, merged by a tree over the workgroup. Pass 2
 * walks the keys in chunks of CHUNK: the weights of a chunk go to workgroup memory, then thread
 * i accumulates output feature i over the chunk. Scores of the first chunk are kept from pass 1;
 * rows with more keys recompute the rest, so any tk works.
 */
export function attentionV1(): GpuProgram<AttentionParams> {
  return {
    key: (p) => `d<=${dCapacity(p.d)}${p.headMask ? ',mask' : ''}${p.returnProbs ? ',probs' : ''}`,
    dispatch: (p) => ({workgroups: grid1d(p.batch * p.tq * p.hq), uniforms: uniformWords(attentionUniforms(p))}),
    code: (p) => {
      if (p.kvDtype) throw new Error('attention v1 reads no f16 key/value cache (versions 2 and 3 do)')
      const cap = dCapacity(p.d)
      const inputs = ['q: array<f32>', 'k: array<f32>', 'v: array<f32>', ...(p.headMask ? ['mask: array<f32>'] : [])]
      const outputs = ['out: array<f32>', ...(p.returnProbs ? ['probs: array<f32>'] : [])]
      return wgsl`${bindings(inputs, outputs, attentionUniforms(p))}
const WG = ${ATTN_WG}u;
const CHUNK = ${CHUNK}u;
var<workgroup> qs: array<f32, ${cap}>;
var<workgroup> sc: array<f32, ${CHUNK}>;
var<workgroup> redMax: array<f32, ${ATTN_WG}>;
var<workgroup> redSum: array<f32, ${ATTN_WG}>;

/** q · k[s] * scale for key s; kv0 is the offset of key 0 of this row's kv head. */
fn score(kv0: u32, s: u32) -> f32 {
  let ko = kv0 + s * u.hkv * u.d;
  var dot = 0.0;
  for (var i = 0u; i < u.d; i++) { dot += qs[i] * k[ko + i]; }
  return dot * u.scale;
}

@compute @workgroup_size(${ATTN_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lidv: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= u.rows) { return; }
  let lid = lidv.x;
  let h = row % u.hq;
  let t = (row / u.hq) % u.tq;
  let b = row / (u.hq * u.tq);
  let kv0 = (b * u.kvRows * u.hkv + h / (u.hq / u.hkv)) * u.d;
  let count = t + u.tk - u.tq + 1u;
  for (var i = lid; i < u.d; i += WG) { qs[i] = q[row * u.d + i]; }
  workgroupBarrier();

  var mx = -3.0e38;
  var sum = 0.0;
  for (var s = lid; s < count; s += WG) {
    let x = score(kv0, s);
    if (s < CHUNK) { sc[s] = x; }
    let m = max(mx, x);
    sum = sum * exp(mx - m) + exp(x - m);
    mx = m;
  }
  redMax[lid] = mx;
  redSum[lid] = sum;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let m1 = redMax[lid];
      let m2 = redMax[lid + stride];
      let m = max(m1, m2);
      redSum[lid] = redSum[lid] * exp(m1 - m) + redSum[lid + stride] * exp(m2 - m);
      redMax[lid] = m;
    }
    workgroupBarrier();
  }
  let rowMax = redMax[0];
  let inv = 1.0 / redSum[0];

  let p0 = ((b * u.hq + h) * u.tq + t) * u.tk;
  var acc = array<f32, ${cap / ATTN_WG}>();
  for (var c0 = 0u; c0 < count; c0 += CHUNK) {
    let n = min(count - c0, CHUNK);
    for (var j = lid; j < n; j += WG) {
      var x: f32;
      if (c0 == 0u) { x = sc[j]; } else { x = score(kv0, c0 + j); }
      let w = exp(x - rowMax) * inv;
      sc[j] = w;
      ${p.returnProbs ? 'probs[p0 + c0 + j] = w;' : ''}
    }
    workgroupBarrier();
    for (var r = 0u; r < ${cap / ATTN_WG}u; r++) {
      let i = lid + r * WG;
      if (i < u.d) {
        var a = acc[r];
        for (var j = 0u; j < n; j++) { a += sc[j] * v[kv0 + (c0 + j) * u.hkv * u.d + i]; }
        acc[r] = a;
      }
    }
    workgroupBarrier();
  }
  let headScale = ${p.headMask ? 'mask[h]' : '1.0'};
  for (var r = 0u; r < ${cap / ATTN_WG}u; r++) {
    let i = lid + r * WG;
    if (i < u.d) { out[row * u.d + i] = acc[r] * headScale; }
  }
  ${p.returnProbs ? 'for (var s = count + lid; s < u.tk; s += WG) { probs[p0 + s] = 0.0; }' : ''}
}`
    },
  }
}
