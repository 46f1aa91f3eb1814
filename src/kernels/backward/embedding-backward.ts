import {bindings, ROW_WG, uniformWords, type UniformFields} from '../wgsl.js'
import type {EmbeddingParams} from '../embedding.js'
import {ceilDiv, grid1d, type Kernel} from '../kernel.js'

/**
 * Backward of the embedding gather: a scatter-add of the output gradient into the table.
 *   ids [n] i32, gy [n, dim] -> gtable [vocab, dim], row v = Σ over i with ids[i] = v of gy[i]
 * WebGPU has no float atomics, so the GPU side gives each (vocab row, tile of WG features) a
 * workgroup that scans the ids a tile at a time, compacts the matching positions in order (a
 * prefix sum) and adds those rows. Sums run in id order, as on CPU: the result is deterministic.
 */
const uniforms = (p: EmbeddingParams): UniformFields => [
  ['n', p.n],
  ['dim', p.dim],
  ['vocab', p.vocab],
  ['tiles', ceilDiv(p.dim, ROW_WG)],
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
    code: (p) => `${bindings(['ids: array<i32>', 'gy: array<f32>'], ['gtable: array<f32>'], uniforms(p))}
var<workgroup> scan: array<u32, ${ROW_WG}>;
var<workgroup> hits: array<u32, ${ROW_WG}>;

@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.y * nwg.x + wid.x;
  if (w >= u.vocab * u.tiles) { return; }
  let row = i32(w / u.tiles);
  let t = lid.x;
  let f = (w % u.tiles) * ${ROW_WG}u + t;
  var acc = 0.0;
  for (var base = 0u; base < u.n; base += ${ROW_WG}u) {
    let j = base + t;
    var hit = 0u;
    if (j < u.n && ids[j] == row) { hit = 1u; }
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
    if (f < u.dim) {
      for (var k = 0u; k < count; k++) { acc += gy[hits[k] * u.dim + f]; }
    }
    workgroupBarrier();
  }
  if (f < u.dim) { gtable[u32(row) * u.dim + f] = acc; }
}`,
    dispatch: (p) => ({workgroups: grid1d(p.vocab * ceilDiv(p.dim, ROW_WG)), uniforms: uniformWords(uniforms(p))}),
  },
}
