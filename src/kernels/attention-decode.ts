import type {AttentionParams} from './attention.js'
import {attentionUniforms, onlineSoftmaxStep, rowDot} from './attention-v2.js'
import {wgslHalfWiden4} from './half-precision.js'
import type {GpuProgram} from './kernel.js'
import {bindings, unrolled, uniformWords, wgsl} from './wgsl.js'

/**
 * Attention version 3, for decoding: one workgroup per (query row, head, batch entry) whose threads
 * split the keys (thread t takes keys t, t + WG, ...), each with its own online softmax, merged at
 * the end through workgroup memory. Version 2 gives a query row one thread, so a decode step
 * (one query row against the whole cache) would walk thousands of keys on one thread of each
 * workgroup while the others idle. Needs d % 4 == 0 and d <= 128; no probabilities. Reads an f16
 * cache (`kvDtype`) four halves a load (vec2u), widened: half the bytes of a step's largest read.
 */
/** Threads a workgroup: 64, or 32 at d = 128, so the partial outputs [threads, d] fit 32 KiB of workgroup memory (llvmpipe). */
const threads = (d: number): number => (d > 64 ? 32 : 64)

export const attentionDecode: GpuProgram<AttentionParams> = {
  key: (p) => `d${p.d}${p.headMask ? ',mask' : ''}${p.kvDtype ? ',f16' : ''}`,
  dispatch: (p) => ({workgroups: [p.hq, p.batch, p.tq], uniforms: uniformWords(attentionUniforms(p))}),
  code: (p) => {
    const d4 = p.d / 4
    const WG = threads(p.d)
    const kv = p.kvDtype ? 'array<vec2u>' : 'array<vec4f>'
    const inputs = ['q: array<vec4f>', `k: ${kv}`, `v: ${kv}`, ...(p.headMask ? ['mask: array<f32>'] : [])]
    // Indices count groups of four values, a vec4f or a vec2u of halves alike.
    const load = (array: string): ((c: number) => string) => (c) => (p.kvDtype ? `widen4(${array}[at + ${c}u])` : `${array}[at + ${c}u]`)
    return wgsl`${bindings(inputs, ['out: array<vec4f>'], attentionUniforms(p))}
${p.kvDtype ? wgslHalfWiden4('widen4', p.kvDtype) : ''}
const WG = ${WG}u;
const D4 = ${d4}u;
var<workgroup> maxes: array<f32, ${WG}>;
var<workgroup> sums: array<f32, ${WG}>;
var<workgroup> outs: array<array<vec4f, ${d4}>, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let h = wid.x;
  let b = wid.y;
  let r = wid.z;
  let t = lid.x;
  // Query row r sits at position r + tk - tq and sees keys 0..that position.
  let kEnd = r + u.tk - u.tq + 1u;
  let qo = ((b * u.tq + r) * u.hq + h) * D4;
${unrolled(d4, (c) => `  let q${c} = q[qo + ${c}u] * u.scale;`)}
${unrolled(d4, (c) => `  var o${c} = vec4f(0.0);`)}
  var m = -3.0e38;
  var l = 0.0;
  let kvStride = u.hkv * D4;
  let kv0 = (b * u.kvRows * u.hkv + h / (u.hq / u.hkv)) * D4;
  for (var j = t; j < kEnd; j += WG) {
    let at = kv0 + j * kvStride;
    ${rowDot('s', (c) => `q${c}`, load('k'), d4)}
${onlineSoftmaxStep(d4, load('v'), '    ')}
  }
  maxes[t] = m;
  sums[t] = l;
${unrolled(d4, (c) => `  outs[t][${c}] = o${c};`)}
  workgroupBarrier();
  // Thread c merges vec4 c of the output over every thread's partial softmax (a thread without keys adds 0).
  if (t < D4) {
    var top = -3.0e38;
    for (var i = 0u; i < WG; i++) { top = max(top, maxes[i]); }
    var total = 0.0;
    var acc = vec4f(0.0);
    for (var i = 0u; i < WG; i++) {
      let w = exp(maxes[i] - top);
      total += sums[i] * w;
      acc = fma(vec4f(w), outs[i][t], acc);
    }
    out[qo + t] = acc * (${p.headMask ? 'mask[h]' : '1.0'} / total);
  }
}`
  },
}
