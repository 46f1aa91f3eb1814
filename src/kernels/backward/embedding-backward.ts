import {declarations, uniformWords, WG, type Field} from '../grad-wgsl.js'
import type {EmbeddingParams} from '../embedding.js'
import {ceilDiv, grid1d, type Kernel} from '../kernel.js'

/**
 * Backward of the embedding gather: a scatter-add of the output gradient into the table.
 *   ids [n] i32, gy [n, dim] -> gtable [vocab, dim], row v = Σ over i with ids[i] = v of gy[i]
 * WebGPU has no float atomics, so the GPU side gives each (vocab row, tile of WG features) a
 * workgroup that scans the ids a tile at a time, compacts the matching positions in order (a
 * prefix sum) and adds those rows. Sums run in id order, as on CPU: the result is deterministic.
 */
const uniforms = (p: EmbeddingParams): Field[] => [
  ['n', 'u32', p.n],
  ['dim', 'u32', p.dim],
  ['vocab', 'u32', p.vocab],
  ['tiles', 'u32', ceilDiv(p.dim, WG)],
]

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
    code: (p) => `${declarations([['ids', 'i32'], 'gy'], ['gtable'], uniforms(p))}
var<workgroup> scan: array<u32, ${WG}>;
var<workgroup> hits: array<u32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.y * nwg.x + wid.x;
  if (w >= u.vocab * u.tiles) { return; }
  let row = i32(w / u.tiles);
  let t = lid.x;
  let f = (w % u.tiles) * ${WG}u + t;
  var acc = 0.0;
  for (var base = 0u; base < u.n; base += ${WG}u) {
    let j = base + t;
    var hit = 0u;
    if (j < u.n && ids[j] == row) { hit = 1u; }
    scan[t] = hit;
    workgroupBarrier();
    for (var s = 1u; s < ${WG}u; s = s << 1u) {
      var v = scan[t];
      if (t >= s) { v += scan[t - s]; }
      workgroupBarrier();
      scan[t] = v;
      workgroupBarrier();
    }
    if (hit == 1u) { hits[scan[t] - 1u] = j; }
    let count = scan[${WG - 1}];
    workgroupBarrier();
    if (f < u.dim) {
      for (var k = 0u; k < count; k++) { acc += gy[hits[k] * u.dim + f]; }
    }
    workgroupBarrier();
  }
  if (f < u.dim) { gtable[u32(row) * u.dim + f] = acc; }
}`,
    dispatch: (p) => ({workgroups: grid1d(p.vocab * ceilDiv(p.dim, WG)), uniforms: uniformWords(uniforms(p))}),
  },
}
