import {rowDot, tileKeys, type FlashTile} from '../attention-v2.js'
import {ceilDiv, type GpuProgram} from '../kernel.js'
import {bindings, unrolled, uniformWords, wgsl, type UniformFields} from '../wgsl.js'
import type {AttentionBackwardParams} from './attention-backward.js'

/**
 * Version 2 of the attention backward kernels (attention-backward.ts holds the math, the CPU twins
 * and version 1), tiled like the forward (attention-v2.ts): a thread owns one row, kept in vec4
 * registers, and the rows it pairs with stream through workgroup memory in tiles.
 *   stats: a thread per query row; key tiles; online log-sum-exp, then D = gy·out.
 *   dq:    a thread per query row (q, gy, dq in registers); key and value tiles.
 *   dk/dv: a thread per key row; query and gy tiles (with their lse and D) of every query head of
 *          the group. dk needs k, v and dk in registers, dv only k and dv, so they are computed by
 *          separate workgroups of one dispatch (even z: dk, odd z: dv) rather than 4·d registers
 *          a thread.
 * Query tiles are dispatched last-first and key tiles first-first: the longest rows start first.
 */
const uniforms = (p: AttentionBackwardParams): UniformFields => [
  ['tq', p.tq],
  ['tk', p.tk],
  ['hq', p.hq],
  ['hkv', p.hkv],
  ['scale', {f: p.scale}],
]

export const defaultStatsTile = (p: AttentionBackwardParams): FlashTile => ({rows: 64, keys: tileKeys(p.d, 1)})
export const defaultDqTile = (p: AttentionBackwardParams): FlashTile => ({rows: 64, keys: tileKeys(p.d, 2)})
/** For dk/dv, `rows` are key rows and `keys` the query rows a tile holds. */
export const defaultDkvTile = (p: AttentionBackwardParams): FlashTile => ({rows: 64, keys: tileKeys(p.d, 2, 32)})

const maskOf = (p: AttentionBackwardParams): string => (p.headMask ? 'mask[h]' : '1.0')
const vecInputs = (names: string[]): string[] => names.map((n) => (n === 'stats' || n === 'mask' ? `${n}: array<f32>` : `${n}: array<vec4f>`))
const backwardInputs = (p: AttentionBackwardParams): string[] => vecInputs(['q', 'k', 'v', 'gy', 'stats', ...(p.headMask ? ['mask'] : [])])

/** Shared head of the query-row kernels: workgroup (h, b, query tile last-first), row t, its offset, and the key range. */
const queryRowPrologue = `  let h = wid.x;
  let b = wid.y;
  let qt = nwg.z - 1u - wid.z;
  let offset = u.tk - u.tq;
  let t = qt * BR + lid.x;
  let valid = t < u.tq;
  let kEnd = min(qt * BR + BR, u.tq) + offset;
  let qo = ((b * u.tq + min(t, u.tq - 1u)) * u.hq + h) * D4;
  let r = (b * u.hq + h) * u.tq + min(t, u.tq - 1u);
  let kvStride = u.hkv * D4;
  let kv0 = (b * u.tk * u.hkv + h / (u.hq / u.hkv)) * D4;`

/** Load keys (and values) k0.. of the tile into workgroup memory, between barriers. */
const keyTileLoad = (withValues: boolean): string => `    workgroupBarrier();
    for (var i = lid.x; i < BC * D4; i += BR) {
      let s = k0 + i / D4;
      if (s < kEnd) {
        let at = kv0 + s * kvStride + i % D4;
        ks[i] = k[at];${withValues ? '\n        vs[i] = v[at];' : ''}
      }
    }
    workgroupBarrier();
    let n = select(0u, min(BC, t + offset + 1u - k0), valid && t + offset >= k0);`

function queryRowProgram(name: string, tileOf: (p: AttentionBackwardParams) => FlashTile, code: (p: AttentionBackwardParams, tile: FlashTile, d4: number) => string): GpuProgram<AttentionBackwardParams> {
  return {
    key: (p) => {
      const t = tileOf(p)
      return `${name},d${p.d},r${t.rows},k${t.keys}${p.headMask ? ',mask' : ''}`
    },
    dispatch: (p) => ({workgroups: [p.hq, p.batch, ceilDiv(p.tq, tileOf(p).rows)], uniforms: uniformWords(uniforms(p))}),
    code: (p) => code(p, tileOf(p), p.d / 4),
  }
}

/** q, k, out, gy -> stats [batch, hq, tq, 2]: (log-sum-exp of the scaled scores, gy·out). */
export const statsV2 = (tileOf: (p: AttentionBackwardParams) => FlashTile): GpuProgram<AttentionBackwardParams> =>
  queryRowProgram('stats', tileOf, (p, {rows, keys}, d4) => wgsl`${bindings(vecInputs(['q', 'k', 'out', 'gy']), ['stats: array<f32>'], uniforms(p))}
const BR = ${rows}u;
const BC = ${keys}u;
const D4 = ${d4}u;
var<workgroup> ks: array<vec4f, ${keys * d4}>;

@compute @workgroup_size(${rows})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
${queryRowPrologue}
${unrolled(d4, (c) => `  let q${c} = q[qo + ${c}u] * u.scale;`)}
  var m = -3.0e38;
  var l = 0.0;
  for (var k0 = 0u; k0 < kEnd; k0 += BC) {
${keyTileLoad(false)}
    for (var j = 0u; j < n; j++) {
      let jb = j * D4;
      ${rowDot('s', (c) => `q${c}`, (c) => `ks[jb + ${c}u]`, d4)}
      if (s > m) {
        l *= exp(m - s);
        m = s;
      }
      l += exp(s - m);
    }
  }
  if (valid) {
    ${rowDot('dd', (c) => `gy[qo + ${c}u]`, (c) => `out[qo + ${c}u]`, d4)}
    stats[2u * r] = m + log(l);
    stats[2u * r + 1u] = dd;
  }
}`)

/** q, k, v, gy, stats[, mask] -> dq [batch, tq, hq, d]. */
export const dqV2 = (tileOf: (p: AttentionBackwardParams) => FlashTile): GpuProgram<AttentionBackwardParams> =>
  queryRowProgram('dq', tileOf, (p, {rows, keys}, d4) => wgsl`${bindings(backwardInputs(p), ['dq: array<vec4f>'], uniforms(p))}
const BR = ${rows}u;
const BC = ${keys}u;
const D4 = ${d4}u;
var<workgroup> ks: array<vec4f, ${keys * d4}>;
var<workgroup> vs: array<vec4f, ${keys * d4}>;

@compute @workgroup_size(${rows})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
${queryRowPrologue}
${unrolled(d4, (c) => `  let q${c} = q[qo + ${c}u] * u.scale;`)}
${unrolled(d4, (c) => `  let gy${c} = gy[qo + ${c}u] * ${maskOf(p)};`)}
${unrolled(d4, (c) => `  var dq${c} = vec4f(0.0);`)}
  let lse = stats[2u * r];
  let dd = stats[2u * r + 1u];
  for (var k0 = 0u; k0 < kEnd; k0 += BC) {
${keyTileLoad(true)}
    for (var j = 0u; j < n; j++) {
      let jb = j * D4;
      ${rowDot('s', (c) => `q${c}`, (c) => `ks[jb + ${c}u]`, d4)}
      ${rowDot('dp', (c) => `gy${c}`, (c) => `vs[jb + ${c}u]`, d4)}
      let ds = vec4f(exp(s - lse) * (dp - dd));
${unrolled(d4, (c) => `      dq${c} = fma(ds, ks[jb + ${c}u], dq${c});`)}
    }
  }
  if (valid) {
${unrolled(d4, (c) => `    dq[qo + ${c}u] = dq${c} * u.scale;`)}
  }
}`)

/** q, k, v, gy, stats[, mask] -> dk, dv [batch, tk, hkv, d]. */
export function dkvV2(tileOf: (p: AttentionBackwardParams) => FlashTile): GpuProgram<AttentionBackwardParams> {
  return {
    key: (p) => {
      const t = tileOf(p)
      return `dkv,d${p.d},r${t.rows},q${t.keys}${p.headMask ? ',mask' : ''}`
    },
    dispatch: (p) => ({workgroups: [p.hkv, p.batch, 2 * ceilDiv(p.tk, tileOf(p).rows)], uniforms: uniformWords(uniforms(p))}),
    code: (p) => {
      const {rows, keys} = tileOf(p)
      const d4 = p.d / 4
      return wgsl`${bindings(backwardInputs(p), ['dk: array<vec4f>', 'dv: array<vec4f>'], uniforms(p))}
const BR = ${rows}u;
const BQ = ${keys}u;
const D4 = ${d4}u;
var<workgroup> qs: array<vec4f, ${keys * d4}>;
var<workgroup> gys: array<vec4f, ${keys * d4}>;
var<workgroup> lses: array<f32, ${keys}>;
var<workgroup> dds: array<f32, ${keys}>;

/** Load query rows q0.. of head h (with gy scaled by the head's mask, lse and D) into workgroup memory. */
fn loadQueries(b: u32, h: u32, q0: u32, tid: u32) {
  workgroupBarrier();
  for (var i = tid; i < BQ * D4; i += BR) {
    let t = q0 + i / D4;
    if (t < u.tq) {
      let at = ((b * u.tq + t) * u.hq + h) * D4 + i % D4;
      qs[i] = q[at];
      gys[i] = gy[at] * ${maskOf(p)};
    }
  }
  for (var i = tid; i < BQ; i += BR) {
    let t = q0 + i;
    if (t < u.tq) {
      let r = (b * u.hq + h) * u.tq + t;
      lses[i] = stats[2u * r];
      dds[i] = stats[2u * r + 1u];
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(${rows})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let g = wid.x;
  let b = wid.y;
  let kt = wid.z / 2u;
  let forDk = wid.z % 2u == 0u;
  let offset = u.tk - u.tq;
  let s = kt * BR + lid.x;
  let valid = s < u.tk;
  let ko = ((b * u.tk + min(s, u.tk - 1u)) * u.hkv + g) * D4;
${unrolled(d4, (c) => `  let k${c} = k[ko + ${c}u] * u.scale;`)}
${unrolled(d4, (c) => `  let v${c} = select(vec4f(0.0), v[ko + ${c}u], forDk);`)}
${unrolled(d4, (c) => `  var acc${c} = vec4f(0.0);`)}
  // Query rows that see the tile's first key: t + offset >= kt * BR.
  let qStart = max(kt * BR, offset) - offset;
  let group = u.hq / u.hkv;
  for (var h = g * group; h < (g + 1u) * group; h++) {
    for (var q0 = qStart; q0 < u.tq; q0 += BQ) {
      loadQueries(b, h, q0, lid.x);
      // This row's first query: t + offset >= s.
      let first = select(BQ, (max(s, q0 + offset) - offset) - q0, valid);
      let n = min(BQ, u.tq - q0);
      for (var j = first; j < n; j++) {
        let jb = j * D4;
        ${rowDot('sc', (c) => `qs[jb + ${c}u]`, (c) => `k${c}`, d4)}
        let pr = exp(sc - lses[j]);
        if (forDk) {
          ${rowDot('dp', (c) => `gys[jb + ${c}u]`, (c) => `v${c}`, d4)}
          let ds = vec4f(pr * (dp - dds[j]));
${unrolled(d4, (c) => `          acc${c} = fma(ds, qs[jb + ${c}u], acc${c});`)}
        } else {
${unrolled(d4, (c) => `          acc${c} = fma(vec4f(pr), gys[jb + ${c}u], acc${c});`)}
        }
      }
    }
  }
  if (valid) {
    if (forDk) {
${unrolled(d4, (c) => `      dk[ko + ${c}u] = acc${c} * u.scale;`)}
    } else {
${unrolled(d4, (c) => `      dv[ko + ${c}u] = acc${c};`)}
    }
  }
}`
    },
  }
}
