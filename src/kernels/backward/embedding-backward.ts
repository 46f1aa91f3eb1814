import {bindings, ROW_WG, uniformWords, type UniformFields} from '../wgsl.js'
import type {EmbeddingParams} from '../embedding.js'
import {ceilDiv, grid1d, type Kernel} from '../kernel.js'

/**
 * Backward of the embedding gather: a scatter-add of the output gradient into the table.
 *   ids [n] i32, gy [n, dim] -> gtable [vocab, dim], row v = Σ over i with ids[i] = v of gy[i]
 * WebGPU has no float atomics, and a sum must come out the same every run, so every table row has
 * one owner that adds its positions in order, from 0, exactly as the CPU does (bit-identical):
 *  - workgroup i < n owns position i's row if i is that id's first position (its threads look for the
 *    id among ids[0..i) and stop at the first match); it then walks ids[i..n) a tile at a time,
 *    compacts the matching positions in order (a prefix sum) and adds their gradient rows;
 *  - workgroups after those write the zero rows: each takes ROW_WG rows of the vocabulary, finds which
 *    of them occur in ids (one pass over ids through shared memory) and zeroes the others.
 * Work is about n²/ROW_WG id compares plus the output's size. The previous design (one workgroup per
 * (vocab row, feature tile) scanning all ids) did vocab x n compares per feature tile: 100 ms a step
 * for Llama-3's 128,256 rows at 4 x 2048 tokens on an H100 (experiments/real-size/2026-12-07-h100-profile).
 */
const uniforms = (p: EmbeddingParams): UniformFields => [
  ['n', p.n],
  ['dim', p.dim],
  ['vocab', p.vocab],
]

const workgroups = (p: EmbeddingParams): number => p.n + ceilDiv(p.vocab, ROW_WG)

export const embeddingBackward: Kernel<EmbeddingParams> = {
  name: 'embedding_backward',
  cpu: ({n, dim, vocab}, [ids, gy], [gtable]) => {
    gtable.fill(0)
    for (let i = 0; i < n; i++) {
      const id = ids[i]
      if (id < 0 || id >= vocab) throw new RangeError(`token id ${id} is outside the vocabulary (0..${vocab - 1})`)
      for (let f = 0; f < dim; f++) gtable[id * dim + f] += gy[i * dim + f]
    }
  },
  gpu: {
    key: () => '',
    code: (p) => `${bindings(['ids: array<i32>', 'gy: array<f32>'], ['gtable: array<f32>'], uniforms(p))}
var<workgroup> scan: array<u32, ${ROW_WG}>;
var<workgroup> hits: array<u32, ${ROW_WG}>;
var<workgroup> tile: array<i32, ${ROW_WG}>;
var<workgroup> seenBefore: u32;

@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.y * nwg.x + wid.x;
  let t = lid.x;
  if (w >= u.n) {
    zeroAbsentRows(w - u.n, t);
    return;
  }
  let id = ids[w];
  if (id < 0 || u32(id) >= u.vocab) { return; }
  // Owner only at the id's first position.
  if (t == 0u) { seenBefore = 0u; }
  workgroupBarrier();
  for (var j = t; j < w; j += ${ROW_WG}u) {
    if (ids[j] == id) { seenBefore = 1u; break; }
  }
  if (workgroupUniformLoad(&seenBefore) != 0u) { return; }
  let row = u32(id) * u.dim;
  for (var base = w; base < u.n; base += ${ROW_WG}u) {
    let j = base + t;
    var hit = 0u;
    if (j < u.n && ids[j] == id) { hit = 1u; }
    scan[t] = hit;
    workgroupBarrier();
    for (var s = 1u; s < ${ROW_WG}u; s = s << 1u) {
      var v = scan[t];
      if (t >= s) { v += scan[t - s]; }
      workgroupBarrier();
      scan[t] = v;
      workgroupBarrier();
    }
    if (hit == 1u) { hits[scan[t] - 1u] = j; }
    let count = scan[${ROW_WG - 1}];
    workgroupBarrier();
    if (count > 0u) {
      for (var f = t; f < u.dim; f += ${ROW_WG}u) {
        // The first tile starts the sum at 0 (it holds position w); later ones continue it.
        var acc = 0.0;
        if (base != w) { acc = gtable[row + f]; }
        for (var k = 0u; k < count; k++) { acc += gy[hits[k] * u.dim + f]; }
        gtable[row + f] = acc;
      }
    }
    workgroupBarrier();
  }
}

fn zeroAbsentRows(block: u32, t: u32) {
  let r = block * ${ROW_WG}u + t;
  var present = 0u;
  for (var base = 0u; base < u.n; base += ${ROW_WG}u) {
    if (base + t < u.n) { tile[t] = ids[base + t]; }
    workgroupBarrier();
    let m = min(${ROW_WG}u, u.n - base);
    for (var k = 0u; k < m; k++) { if (tile[k] == i32(r)) { present = 1u; } }
    workgroupBarrier();
  }
  scan[t] = present;
  workgroupBarrier();
  for (var k = 0u; k < ${ROW_WG}u; k++) {
    let rk = block * ${ROW_WG}u + k;
    if (rk < u.vocab && scan[k] == 0u) {
      for (var f = t; f < u.dim; f += ${ROW_WG}u) { gtable[rk * u.dim + f] = 0.0; }
    }
  }
}`,
    dispatch: (p) => ({workgroups: grid1d(workgroups(p)), uniforms: uniformWords(uniforms(p))}),
  },
}
