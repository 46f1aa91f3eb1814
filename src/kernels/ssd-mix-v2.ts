import type {ChunkMixParams} from './ssd-mix.js'
import {chunkMixFields, MIX_LOAD_V, MIX_STORE, MIX_TILE_COORDS} from './ssd-mix-tile.js'
import {bindings} from './wgsl.js'

/**
 * Version 2 of the chunk mix's WGSL (same sums as version 1 in dev/kernels/ssd-mix.ts, another order).
 * Version 1 walked the chunk's times in slabs of 16 and, for every slab, reloaded the row tile's
 * Q and rebuilt its scores over all features: Q was read from memory once per slab, and each slab
 * cost two barriers per 16 features. Version 2 takes the times 64 at a time (a key tile): one pass
 * over the features loads Q, K and (on the first key tile) the state once each and accumulates
 * the state term and all 64 x 64 scores together, each thread holding 4 rows x 4 slabs of scores
 * in registers; the scores then meet V slab by slab. Workgroup memory: Q (reused for the decayed
 * scores), K stored features-major with rows of 65 (conflict-free on store and load), and one
 * 16 x 64 tile of the state or of V: 12.4 KiB.
 */
export function chunkMixV2Wgsl(p: ChunkMixParams): string {
  const anti = p.anticausal
  // 'ji' states are contiguous along i: let neighbouring threads read neighbouring i.
  const stateCoords = p.stateLayout === 'ij' ? 'let ii = e / 64u; let jj = e % 64u;' : 'let ii = e % 16u; let jj = e / 16u;'
  const stateIndex = p.stateLayout === 'ij' ? '(state * u.qDim + i0 + ii) * u.vDim + j0 + jj' : '(state * u.vDim + j0 + jj) * u.qDim + i0 + ii'
  return `${bindings(['Qm: array<f32>', 'Km: array<f32>', 'Vm: array<f32>', 'acs: array<f32>', 'S: array<f32>'], ['out: array<f32>'], chunkMixFields(p))}
// Qt: 64 rows x 16 features of Q, later 64 rows x 16 times of decayed scores; Kt: 16 features x 64
// times of K (rows padded to 65); Wt: 16 x 64 of the state (features x columns) or of V (times x columns).
var<workgroup> Qt: array<f32, 1024>;
var<workgroup> Kt: array<f32, 1040>;
var<workgroup> Wt: array<f32, 1024>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
${MIX_TILE_COORDS}
  // Its scores are against times t0 + tx + 16sl of the key tile, sl in 0..3.
  var Ar = array<f32, 4>();
  var stateScale = array<f32, 4>();
  for (var a = 0u; a < 4u; a++) {
    Ar[a] = acs[bh * u.seq + min(r0 + ty + 16u * a, end - 1u)];
    stateScale[a] = exp(${anti ? 'last - Ar[a]' : 'Ar[a]'});
  }
  var acc = array<f32, 16>();

  let keyTiles = (end - start + 63u) / 64u;
  let firstTile = ${anti ? 'rt' : '0u'};
  let lastTile = ${anti ? 'keyTiles' : 'rt + 1u'};
  for (var kt = firstTile; kt < lastTile; kt++) {
    let t0 = start + kt * 64u;
    let withState = kt == firstTile;
    var sc = array<f32, 16>();
    for (var i0 = 0u; i0 < u.qDim; i0 += 16u) {
      for (var e = li; e < 1024u; e += 256u) {
        let rr = e / 16u;
        let ii = e % 16u;
        var v = 0.0;
        if (r0 + rr < end && i0 + ii < u.qDim) { v = Qm[((b * u.seq + r0 + rr) * u.qHeads + qh) * u.qDim + i0 + ii]; }
        Qt[e] = v;
        var k = 0.0;
        if (t0 + rr < end && i0 + ii < u.qDim) { k = Km[((b * u.seq + t0 + rr) * u.kHeads + kh) * u.qDim + i0 + ii]; }
        Kt[ii * 65u + rr] = k;
      }
      if (withState) {
        for (var e = li; e < 1024u; e += 256u) {
          ${stateCoords}
          var w = 0.0;
          if (i0 + ii < u.qDim && j0 + jj < u.vDim) { w = S[${stateIndex}]; }
          Wt[ii * 64u + jj] = w;
        }
      }
      workgroupBarrier();
      for (var ii = 0u; ii < 16u; ii++) {
        var qa = array<f32, 4>();
        for (var a = 0u; a < 4u; a++) { qa[a] = Qt[(ty + 16u * a) * 16u + ii]; }
        for (var sl = 0u; sl < 4u; sl++) {
          let k = Kt[ii * 65u + tx + 16u * sl];
          for (var a = 0u; a < 4u; a++) { sc[a * 4u + sl] += qa[a] * k; }
        }
        if (withState) {
          var w = array<f32, 4>();
          for (var q = 0u; q < 4u; q++) { w[q] = Wt[ii * 64u + tx + 16u * q]; }
          for (var a = 0u; a < 4u; a++) {
            let qs = qa[a] * stateScale[a];
            for (var q = 0u; q < 4u; q++) { acc[a * 4u + q] += qs * w[q]; }
          }
        }
      }
      workgroupBarrier();
    }

    // Scores times V, 16 times at a time.
    for (var sl = 0u; sl < 4u; sl++) {
      let s0 = t0 + 16u * sl;
      if (s0 >= end) { break; }
      let s = s0 + tx;
      let As = acs[bh * u.seq + min(s, end - 1u)];
      for (var a = 0u; a < 4u; a++) {
        let r = r0 + ty + 16u * a;
        let valid = r < end && s < end && ${anti ? 's >= r' : 's <= r'};
        Qt[(ty + 16u * a) * 16u + tx] = select(0.0, sc[a * 4u + sl] * exp(${anti ? 'As - Ar[a]' : 'Ar[a] - As'}), valid);
      }
${MIX_LOAD_V}
      workgroupBarrier();
      for (var ss = 0u; ss < 16u; ss++) {
        var w = array<f32, 4>();
        for (var q = 0u; q < 4u; q++) { w[q] = Wt[ss * 64u + tx + 16u * q]; }
        for (var a = 0u; a < 4u; a++) {
          let sa = Qt[(ty + 16u * a) * 16u + ss];
          for (var q = 0u; q < 4u; q++) { acc[a * 4u + q] += sa * w[q]; }
        }
      }
      workgroupBarrier();
    }
  }

${MIX_STORE}
}`
}
