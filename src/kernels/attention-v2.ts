import type {AttentionParams} from './attention.js'
import {wgslHalfWiden4} from './half-precision.js'
import {ceilDiv, type GpuProgram} from './kernel.js'
import {bindings, unrolled, uniformWords, wgsl, type UniformFields} from './wgsl.js'

/**
 * Attention version 2: flash-style tiles (attention.ts holds the shapes, the CPU twin and version 1).
 * A workgroup takes `rows` consecutive query rows of one (batch, head), one thread a row, and walks
 * the keys in tiles of `keys` through workgroup memory, stopping at the causal diagonal of its last
 * row. Each thread keeps its query row (pre-scaled) and output row in registers as vec4s and
 * updates the softmax online key by key: the output is rescaled only when the running max grows,
 * which for n keys happens about ln(n) times, so no score tile is kept. Tiles are [key][vec4]
 * arrays read with a constant inner index, so Dawn's bounds clamp applies once per key, not per
 * vec4. Query tiles are dispatched
 * last-first, so the longest rows start first. Needs d % 4 == 0; no probabilities.
 * The same tiling serves the backward kernels (backward/attention-backward-v2.ts).
 */
export interface FlashTile {
  /** Query rows (threads) per workgroup. */
  rows: number
  /** Keys per tile in workgroup memory (for dk/dv: query rows per tile). */
  keys: number
  /** dk/dv only: thread sets that split the query range of a key tile (default 1). */
  splits?: number
}

/** Head dims v2 serves: vec4 rows, and q plus out in registers (2·d floats a thread). */
export const flashSupported = (p: Pick<AttentionParams, 'd'>): boolean => p.d % 4 === 0 && p.d <= 128

/** Keys a tile holds so that `arrays` tiles of [keys, d] f32 fit in 32 KiB (llvmpipe's limit; the H200 has 48). */
export const tileKeys = (d: number, arrays: number, most = 64): number => Math.min(most, 2 ** Math.floor(Math.log2(8192 / (arrays * d))))

/** Rows 128 and keys 32 measured fastest on the H200 at T = 2048, d = 64 (BENCHMARKS.md). */
export const defaultForwardTile = (p: Pick<AttentionParams, 'd'>): FlashTile => ({rows: 128, keys: tileKeys(p.d, 2, 32)})

/** The uniforms every attention kernel reads (the decode kernel's too). */
export const attentionUniforms = (p: AttentionParams): UniformFields => [
  ['tq', p.tq],
  ['tk', p.tk],
  ['kvRows', p.kvRows ?? p.tk],
  ['hq', p.hq],
  ['hkv', p.hkv],
  ['scale', {f: p.scale}],
]

/** WGSL `acc` = Σ a_c ∘ b[base + c] over the row's vec4s, and `name` its horizontal sum. */
export function rowDot(name: string, a: (c: number) => string, b: (c: number) => string, d4: number): string {
  return `var ${name}4 = ${a(0)} * ${b(0)};
${unrolled(d4 - 1, (c) => `${name}4 = fma(${a(c + 1)}, ${b(c + 1)}, ${name}4);`)}
let ${name} = ${name}4.x + ${name}4.y + ${name}4.z + ${name}4.w;`
}

/**
 * One key of an online softmax (flash attention's running max m, sum l and output o0..o{d4-1}): rescale what was
 * summed when score s raises the max, then add exp(s - m) times the key's value row, read by `v(c)`.
 */
export function onlineSoftmaxStep(d4: number, v: (c: number) => string, indent: string): string {
  const lines = ['if (s > m) {', '  let a = exp(m - s);', '  l *= a;', ...Array.from({length: d4}, (_, c) => `  o${c} *= a;`), '  m = s;', '}',
    'let pj = exp(s - m);', 'l += pj;', ...Array.from({length: d4}, (_, c) => `o${c} = fma(vec4f(pj), ${v(c)}, o${c});`)]
  return lines.map((l) => indent + l).join('\n')
}

export function flashForward(tileOf: (p: AttentionParams) => FlashTile): GpuProgram<AttentionParams> {
  return {
    key: (p) => {
      const t = tileOf(p)
      return `d${p.d},r${t.rows},k${t.keys}${p.headMask ? ',mask' : ''}${p.kvDtype ? ',f16' : ''}`
    },
    dispatch: (p) => ({workgroups: [p.hq, p.batch, ceilDiv(p.tq, tileOf(p).rows)], uniforms: uniformWords(attentionUniforms(p))}),
    code: (p) => {
      const {rows, keys} = tileOf(p)
      const d4 = p.d / 4
      // An f16 cache's keys and values are widened as they enter the tile (four halves, a vec2u, per vec4f).
      const kv = p.kvDtype ? 'array<vec2u>' : 'array<vec4f>'
      const inputs = ['q: array<vec4f>', `k: ${kv}`, `v: ${kv}`, ...(p.headMask ? ['mask: array<f32>'] : [])]
      const load = (array: string): string => (p.kvDtype ? `widen4(${array}[at])` : `${array}[at]`)
      return wgsl`${bindings(inputs, ['out: array<vec4f>'], attentionUniforms(p))}
${p.kvDtype ? wgslHalfWiden4('widen4', p.kvDtype) : ''}
const BR = ${rows}u;
const BC = ${keys}u;
const D4 = ${d4}u;
var<workgroup> ks: array<array<vec4f, ${d4}>, ${keys}>;
var<workgroup> vs: array<array<vec4f, ${d4}>, ${keys}>;

@compute @workgroup_size(${rows})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let h = wid.x;
  let b = wid.y;
  let qt = nwg.z - 1u - wid.z;
  let offset = u.tk - u.tq;
  let t = qt * BR + lid.x;
  let valid = t < u.tq;
  // Keys the tile's last row sees (exclusive): the workgroup stops at its causal diagonal.
  let kEnd = min(qt * BR + BR, u.tq) + offset;
  let qo = ((b * u.tq + min(t, u.tq - 1u)) * u.hq + h) * D4;
${unrolled(d4, (c) => `  let q${c} = q[qo + ${c}u] * u.scale;`)}
${unrolled(d4, (c) => `  var o${c} = vec4f(0.0);`)}
  var m = -3.0e38;
  var l = 0.0;
  let kvStride = u.hkv * D4;
  let kv0 = (b * u.kvRows * u.hkv + h / (u.hq / u.hkv)) * D4;
  for (var k0 = 0u; k0 < kEnd; k0 += BC) {
    workgroupBarrier();
    for (var i = lid.x; i < BC * D4; i += BR) {
      let s = k0 + i / D4;
      if (s < kEnd) {
        let at = kv0 + s * kvStride + i % D4;
        ks[i / D4][i % D4] = ${load('k')};
        vs[i / D4][i % D4] = ${load('v')};
      }
    }
    workgroupBarrier();
    let n = select(0u, min(BC, t + offset + 1u - k0), valid && t + offset >= k0);
    for (var j = 0u; j < n; j++) {
      ${rowDot('s', (c) => `q${c}`, (c) => `ks[j][${c}]`, d4)}
${onlineSoftmaxStep(d4, (c) => `vs[j][${c}]`, '      ')}
    }
  }
  if (valid) {
    let w = ${p.headMask ? 'mask[h]' : '1.0'} / l;
${unrolled(d4, (c) => `    out[qo + ${c}u] = o${c} * w;`)}
  }
}`
    },
  }
}
