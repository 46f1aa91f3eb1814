import type {ChunkMixParams} from './ssd-mix.js'
import {chunkCount} from './ssd-chunk.js'
import type {UniformFields} from './wgsl.js'

/**
 * What both versions of the chunk mix's WGSL share (ssd-mix.ts, ssd-mix-v2.ts): the output tile,
 * the uniforms, and the WGSL that places a workgroup, loads V and writes the output.
 */

/** Output tile of one workgroup (16 x 16 threads, 4 x 4 values each) and the width of a slab of times or features. */
export const ROWS = 64
export const COLS = 64
export const SLAB = 16

/**
 * The tile's coordinates: batch, head and chunk of the workgroup, its first row and column, the
 * heads of Q, K and V it reads, and the thread's place; row tiles past a short last chunk return.
 */
export const MIX_TILE_COORDS = `  let rowTiles = (u.chunk + ${ROWS - 1}u) / ${ROWS}u;
  let rt = wid.x % rowTiles;
  let j0 = (wid.x / rowTiles) * ${COLS}u;
  let c = wid.y;
  let bh = wid.z;
  let b = bh / u.heads;
  let h = bh % u.heads;
  let qh = h / (u.heads / u.qHeads);
  let kh = h / (u.heads / u.kHeads);
  let vh = h / (u.heads / u.vHeads);
  let start = c * u.chunk;
  let end = min(start + u.chunk, u.seq);
  let r0 = start + rt * ${ROWS}u;
  if (r0 >= end) { return; }
  let state = bh * u.chunks + c;
  let last = acs[bh * u.seq + end - 1u];
  // This thread's rows are r0 + ty + 16a and columns j0 + tx + 16q, a and q in 0..3.
  let ty = lid.y;
  let tx = lid.x;`

/** V's 16 times from s0 (zero past the chunk) into Wt, [time][column]. */
export const MIX_LOAD_V = `    for (var e = li; e < ${SLAB * COLS}u; e += 256u) {
      let ss = e / ${COLS}u;
      let jj = e % ${COLS}u;
      var w = 0.0;
      if (s0 + ss < end && j0 + jj < u.vDim) { w = Vm[((b * u.seq + s0 + ss) * u.vHeads + vh) * u.vDim + j0 + jj]; }
      Wt[e] = w;
    }`

/** The thread's 4 x 4 accumulators, written out. */
export const MIX_STORE = `  for (var a = 0u; a < 4u; a++) {
    let r = r0 + ty + 16u * a;
    if (r < end) {
      for (var q = 0u; q < 4u; q++) {
        let j = j0 + tx + 16u * q;
        if (j < u.vDim) { out[((b * u.seq + r) * u.heads + h) * u.vDim + j] = acc[a * 4u + q]; }
      }
    }
  }`

export const chunkMixFields = (p: ChunkMixParams): UniformFields => [
  ['chunks', chunkCount(p)],
  ['seq', p.seq],
  ['heads', p.heads],
  ['chunk', p.chunk],
  ['qHeads', p.q.heads],
  ['kHeads', p.k.heads],
  ['vHeads', p.v.heads],
  ['qDim', p.q.dim],
  ['vDim', p.v.dim],
]
