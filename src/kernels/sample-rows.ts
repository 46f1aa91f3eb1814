import {grid1d, type Kernel} from './kernel.js'
import {bindings, uniformWords, wgsl, type UniformFields} from './wgsl.js'

/**
 * One token id per row of logits, drawn on the device so that a decode step reads back [rows] ids
 * instead of [rows, vocab] logits. logits: [rows, vocab] f32; draws: [rows] i32 holding the bits
 * of a uint32 from Random.uint32 (u = bits / 2^32, exactly Random.float()); out: [rows] i32.
 *   temperature <= 0: the first index of the row's maximum (argmaxRow).
 *   temperature > 0:  the first index i where the cumulative sum, in index order, of
 *                     exp((x - max) / T) passes u · (their total) (drawFromRow, top-p 1).
 * A row holding a NaN or an infinity gets -1 (the caller's error: a non-finite logit is never a token).
 * The CPU twin is the host sampler itself, so tokens are identical on the CPU backend. The WGSL
 * works in f32: a greedy pick is exact; a sampled one differs from the host's float64 walk only
 * when u · total falls within rounding of a cumulative sum.
 */
export interface SampleRowsParams {
  rows: number
  vocab: number
  temperature: number
}

/** The first index of the row's maximum. */
export function argmaxRow(row: ArrayLike<number>): number {
  let best = 0
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i
  return best
}

/**
 * The host's draw from softmax(row / temperature) with the uniform u in [0, 1): walk the
 * probabilities in index order, in float64, until their sum passes u times their total.
 */
export function drawFromRow(row: ArrayLike<number>, temperature: number, u: number): number {
  const V = row.length
  let max = -Infinity
  for (let i = 0; i < V; i++) if (row[i] > max) max = row[i]
  const probs = new Float64Array(V)
  let sum = 0
  for (let i = 0; i < V; i++) sum += probs[i] = Math.exp((row[i] - max) / temperature)
  let left = u * sum
  for (let i = 0; i < V; i++) {
    left -= probs[i]
    if (left < 0) return i
  }
  return V - 1
}

const WG = 256
const uniforms = (p: SampleRowsParams): UniformFields => [['rows', p.rows], ['vocab', p.vocab], ['temperature', {f: p.temperature}]]

export const sampleRows: Kernel<SampleRowsParams> = {
  name: 'sample-rows',
  cpu: ({rows, vocab, temperature}, [logits, draws], [out]) => {
    for (let r = 0; r < rows; r++) {
      const row = logits.subarray(r * vocab, (r + 1) * vocab)
      if (!row.every(Number.isFinite)) out[r] = -1
      else out[r] = temperature <= 0 ? argmaxRow(row) : drawFromRow(row, temperature, (draws[r] >>> 0) / 2 ** 32)
    }
  },
  gpu: {
    key: () => '',
    // Threads stride over the row for the max (coalesced); for the draw each thread sums one
    // contiguous chunk, and thread 0 walks the chunk sums, then the one chunk the target falls in.
    code: (p) => wgsl`${bindings(['logits: array<f32>', 'draws: array<u32>'], ['out: array<i32>'], uniforms(p))}
const NONE = 0xffffffffu;
var<workgroup> bestValue: array<f32, ${WG}>;
var<workgroup> bestIndex: array<u32, ${WG}>;
var<workgroup> chunkSum: array<f32, ${WG}>;
var<workgroup> nonFinite: atomic<u32>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= u.rows) { return; }
  let t = lid.x;
  let V = u.vocab;
  let base = row * V;
  var bv = 0.0;
  var bi = NONE;
  for (var i = t; i < V; i += ${WG}u) {
    let x = logits[base + i];
    // Exponent bits all ones: NaN or an infinity.
    if ((bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u) { atomicOr(&nonFinite, 1u); }
    if (bi == NONE || x > bv) { bv = x; bi = i; }
  }
  bestValue[t] = bv;
  bestIndex[t] = bi;
  workgroupBarrier();
  for (var stride = ${WG / 2}u; stride > 0u; stride >>= 1u) {
    if (t < stride) {
      let oi = bestIndex[t + stride];
      let ov = bestValue[t + stride];
      let mi = bestIndex[t];
      if (oi != NONE && (mi == NONE || ov > bestValue[t] || (ov == bestValue[t] && oi < mi))) { bestValue[t] = ov; bestIndex[t] = oi; }
    }
    workgroupBarrier();
  }
  if (t == 0u && atomicLoad(&nonFinite) != 0u) { out[row] = -1; }
  if (u.temperature <= 0.0) {
    if (t == 0u && atomicLoad(&nonFinite) == 0u) { out[row] = i32(bestIndex[0]); }
    return;
  }
  let top = bestValue[0];
  let chunk = (V + ${WG - 1}u) / ${WG}u;
  let lo = min(t * chunk, V);
  let hi = min(lo + chunk, V);
  var s = 0.0;
  for (var i = lo; i < hi; i++) { s += exp((logits[base + i] - top) / u.temperature); }
  chunkSum[t] = s;
  workgroupBarrier();
  if (t != 0u || atomicLoad(&nonFinite) != 0u) { return; }
  var total = 0.0;
  for (var c = 0u; c < ${WG}u; c++) { total += chunkSum[c]; }
  let goal = f32(draws[row]) / 4294967296.0 * total;
  var acc = 0.0;
  var last = bestIndex[0];
  for (var c = 0u; c < ${WG}u; c++) {
    if (acc + chunkSum[c] <= goal) { acc += chunkSum[c]; continue; }
    // Walk the chunk; rounding may carry the walk past its end, into the next chunks.
    for (var i = min(c * chunk, V); i < min(c * chunk + chunk, V); i++) {
      let q = exp((logits[base + i] - top) / u.temperature);
      acc += q;
      if (q > 0.0) { last = i; }
      if (acc > goal) { out[row] = i32(i); return; }
    }
  }
  out[row] = i32(last);
}`,
    dispatch: (p) => ({workgroups: grid1d(p.rows), uniforms: uniformWords(uniforms(p))}),
  },
}
