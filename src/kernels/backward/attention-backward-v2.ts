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
 *          a thread. A key tile's query range is split over `splits` thread sets (more threads
 *          for the few key/value heads of GQA).
 * Query tiles are dispatched last-first and key tiles first-first: the longest rows start first.
 */
const uniforms = (p: AttentionBackwardParams): UniformFields => [
  ['tq', p.tq],
  ['tk', p.tk],
  ['hq', p.hq],
  ['hkv', p.hkv],
  ['scale', {f: p.scale}],
]

/** Defaults: the fastest tiles at T = 2048, d = 64 on the H200 that stay within 32 KiB (BENCHMARKS.md). */
export const defaultStatsTile = (p: AttentionBackwardParams): FlashTile => ({rows: 64, keys: tileKeys(p.d, 1, 32)})
export const defaultDqTile = (p: AttentionBackwardParams): FlashTile => ({rows: 128, keys: tileKeys(p.d, 2, 16)})
/**
 * For dk/dv, `rows` are key rows and `keys` the query rows a tile holds: four sets of 64 key rows
 * with 16-query tiles (2·4 tiles of [16, d]: 32 KiB at d = 64).
 */
export function defaultDkvTile(p: AttentionBackwardParams): FlashTile {
  const keys = tileKeys(p.d, 8, 16)
  return {rows: Math.min(64, 4 * keys), keys, splits: 4}
}

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
        ks[i / D4][i % D4] = k[at];${withValues ? '\n        vs[i / D4][i % D4] = v[at];' : ''}
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
var<workgroup> ks: array<array<vec4f, ${d4}>, ${keys}>;

@compute @workgroup_size(${rows})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
${queryRowPrologue}
${unrolled(d4, (c) => `  let q${c} = q[qo + ${c}u] * u.scale;`)}
  var m = -3.0e38;
  var l = 0.0;
  for (var k0 = 0u; k0 < kEnd; k0 += BC) {
${keyTileLoad(false)}
    for (var j = 0u; j < n; j++) {
      ${rowDot('s', (c) => `q${c}`, (c) => `ks[j][${c}]`, d4)}
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
var<workgroup> ks: array<array<vec4f, ${d4}>, ${keys}>;
var<workgroup> vs: array<array<vec4f, ${d4}>, ${keys}>;

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
      ${rowDot('s', (c) => `q${c}`, (c) => `ks[j][${c}]`, d4)}
      ${rowDot('dp', (c) => `gy${c}`, (c) => `vs[j][${c}]`, d4)}
      let ds = vec4f(exp(s - lse) * (dp - dd));
${unrolled(d4, (c) => `      dq${c} = fma(ds, ks[j][${c}], dq${c});`)}
    }
  }
  if (valid) {
${unrolled(d4, (c) => `    dq[qo + ${c}u] = dq${c} * u.scale;`)}
  }
}`)

/**
 * q, k, v, gy, stats[, mask] -> dk, dv [batch, tk, hkv, d]. With `splits` S > 1 a workgroup has S
 * sets of `rows` threads on the same key rows: the (query head, query tile) items of the group's
 * heads are dealt round-robin to the sets, each staging its own tile, and the S partial sums meet
 * in a tree through the tile memory at the end (which needs rows <= 4 · keys).
 */
export function dkvV2(tileOf: (p: AttentionBackwardParams) => FlashTile): GpuProgram<AttentionBackwardParams> {
  return {
    key: (p) => {
      const t = tileOf(p)
      return `dkv,d${p.d},r${t.rows},q${t.keys},s${t.splits ?? 1}${p.headMask ? ',mask' : ''}`
    },
    dispatch: (p) => ({workgroups: [p.hkv, p.batch, 2 * ceilDiv(p.tk, tileOf(p).rows)], uniforms: uniformWords(uniforms(p))}),
    code: (p) => {
      const {rows, keys} = tileOf(p)
      const splits = tileOf(p).splits ?? 1
      const d4 = p.d / 4
      // The reduction's first level parks splits/2 partial rows in the tile memory (2·S tiles of vec4).
      if (splits & (splits - 1) || (splits > 1 && (splits / 2) * rows > 2 * splits * keys)) {
        throw new Error(`attention dk/dv: ${splits} splits of ${rows} rows do not reduce through ${splits} tiles of ${keys} queries`)
      }
      const levels: number[] = []
      for (let stride = splits / 2; stride >= 1; stride /= 2) levels.push(stride)
      return wgsl`${bindings(backwardInputs(p), ['dk: array<vec4f>', 'dv: array<vec4f>'], uniforms(p))}
const BR = ${rows}u;
const BQ = ${keys}u;
const D4 = ${d4}u;
const S = ${splits}u;
/** Set s stages its query rows at [s·BQ, ..) and their gy at [(S + s)·BQ, ..). */
var<workgroup> tiles: array<array<vec4f, ${d4}>, ${2 * splits * keys}>;

@compute @workgroup_size(${rows * splits})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let g = wid.x;
  let b = wid.y;
  let kt = wid.z / 2u;
  let forDk = wid.z % 2u == 0u;
  let part = lid.x / BR;
  let row = lid.x % BR;
  let offset = u.tk - u.tq;
  let s = kt * BR + row;
  let valid = s < u.tk;
  let ko = ((b * u.tk + min(s, u.tk - 1u)) * u.hkv + g) * D4;
${unrolled(d4, (c) => `  let k${c} = k[ko + ${c}u] * u.scale;`)}
${unrolled(d4, (c) => `  let v${c} = select(vec4f(0.0), v[ko + ${c}u], forDk);`)}
${unrolled(d4, (c) => `  var acc${c} = vec4f(0.0);`)}
  // Query rows that see the tile's first key: t + offset >= kt * BR; items are (head, query tile) pairs.
  let qStart = max(kt * BR, offset) - offset;
  let group = u.hq / u.hkv;
  let qTiles = (u.tq - min(qStart, u.tq) + BQ - 1u) / BQ;
  let items = group * qTiles;
  let qBase = part * BQ;
  let gyBase = (S + part) * BQ;
  for (var round = 0u; round < items; round += S) {
    let item = round + part;
    let h = g * group + item / max(qTiles, 1u);
    let q0 = qStart + (item % max(qTiles, 1u)) * BQ;
    let mine = item < items;
    workgroupBarrier();
    if (mine) {
      for (var i = row; i < BQ * D4; i += BR) {
        let t = q0 + i / D4;
        if (t < u.tq) {
          let at = ((b * u.tq + t) * u.hq + h) * D4 + i % D4;
          tiles[qBase + i / D4][i % D4] = q[at];
          tiles[gyBase + i / D4][i % D4] = gy[at] * ${maskOf(p)};
        }
      }
    }
    workgroupBarrier();
    // The tile's (lse, D) pairs are read from storage: the same address for every thread of a set.
    let st = 2u * ((b * u.hq + h) * u.tq + q0);
    // This row's first query: t + offset >= s.
    let first = select(BQ, (max(s, q0 + offset) - offset) - q0, valid && mine);
    let n = select(0u, min(BQ, u.tq - q0), mine);
    for (var j = first; j < n; j++) {
      let jq = qBase + j;
      let jg = gyBase + j;
      ${rowDot('sc', (c) => `tiles[jq][${c}]`, (c) => `k${c}`, d4)}
      let pr = exp(sc - stats[st + 2u * j]);
      if (forDk) {
        ${rowDot('dp', (c) => `tiles[jg][${c}]`, (c) => `v${c}`, d4)}
        let ds = vec4f(pr * (dp - stats[st + 2u * j + 1u]));
${unrolled(d4, (c) => `        acc${c} = fma(ds, tiles[jq][${c}], acc${c});`)}
      } else {
${unrolled(d4, (c) => `        acc${c} = fma(vec4f(pr), tiles[jg][${c}], acc${c});`)}
      }
    }
  }
${levels
  .map(
    (stride) => `  // Sets ${stride}..${2 * stride - 1} hand their sums to sets 0..${stride - 1}.
  workgroupBarrier();
  if (part >= ${stride}u && part < ${2 * stride}u) {
    let at = (part - ${stride}u) * BR + row;
${unrolled(d4, (c) => `    tiles[at][${c}] = acc${c};`)}
  }
  workgroupBarrier();
  if (part < ${stride}u) {
    let at = part * BR + row;
${unrolled(d4, (c) => `    acc${c} += tiles[at][${c}];`)}
  }`,
  )
  .join('\n')}
  if (valid && part == 0u) {
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
