import {wgslHalfLoad, wgslHalfWiden4} from './half-precision.js'
import {ceilDiv, type GpuProgram} from './kernel.js'
import type {MatmulParams} from './matmul.js'
import {bindings, uniformWords, unrolled, wgsl, type UniformFields} from './wgsl.js'

/**
 * Matmul version 3 (matmul-wgsl.ts picks): a linear layer x · Wᵀ over a few rows of x, as a decode
 * step has (one row per sequence). The tiled versions compute whole 64- to 256-row tiles of C and
 * walk K serially within a workgroup, so at M = 1 they launch N/64 workgroups (32 for a 2048-wide
 * projection: a quarter of an H100's SMs) that each wait on K/16 dependent global loads, and they
 * compute 64 rows to keep one: a fixed cost per step whatever the batch (the first decode sweep's
 * ~42 ms floor, BENCHMARKS.md). Here a workgroup of 32×8 threads computes COLS = 8 columns of C for
 * `rows` (1, 2, 4 or 8; the key) rows: the 32 threads of a column walk that column's row of W along
 * K together (coalesced; each weight read once per row block) with one accumulator per row, and the
 * 32 partial sums of each (row, column) are added in workgroup memory. N/8 workgroups per row block.
 * Where 4 divides K, each lane loads four values at a time (vec4f; half weights as vec2u, widened):
 * a warp then reads 512 (half: 256) contiguous bytes of W a load, which a memory-bound step needs.
 */
const LANES = 32
const COLS = 8
/** Rows of C a workgroup computes at most: M above it is split over the grid's y. */
export const ROWS_MAX = 8

const uniforms = (p: MatmulParams): UniformFields => [['m', p.m], ['n', p.n], ['k', p.k], ['bStride', p.broadcastB ? 0 : p.k * p.n]]

/** Rows a workgroup computes: the power of two at least M, at most ROWS_MAX. */
export const rowsOf = (p: MatmulParams): number => Math.min(ROWS_MAX, 2 ** Math.ceil(Math.log2(Math.max(1, p.m))))

/** Only x · Wᵀ (transB, A untransposed), with a grid within WebGPU's 65535 workgroups per dimension. */
export const fitsRows = (p: MatmulParams): boolean =>
  p.transB && !p.transA && ceilDiv(p.n, COLS) <= 65535 && ceilDiv(p.m, rowsOf(p)) <= 65535 && p.batch <= 65535

/** Four values a load: 4 divides K (then every row of A and W starts on a vec4). */
const byFour = (p: MatmulParams): boolean => p.k % 4 === 0

function code(p: MatmulParams): string {
  const R = rowsOf(p)
  const v4 = byFour(p)
  const inputs = v4
    ? ['a: array<vec4f>', p.bDtype ? 'b: array<vec2u>' : 'b: array<vec4f>', ...(p.bias ? ['bias: array<f32>'] : [])]
    : ['a: array<f32>', p.bDtype ? 'b: array<u32>' : 'b: array<f32>', ...(p.bias ? ['bias: array<f32>'] : [])]
  const readB = (i: string): string => (p.bDtype ? `loadB(${v4 ? `b[${i}]` : i})` : `b[${i}]`)
  const halfLoad = p.bDtype ? (v4 ? wgslHalfWiden4('loadB', p.bDtype) : wgslHalfLoad('loadB', 'b', p.bDtype)) : ''
  // Indices count loaded units: vec4s where v4, else values.
  const unit = v4 ? ' / 4u' : ''
  return wgsl`${bindings(inputs, ['c: array<f32>'], uniforms(p))}
${halfLoad}
var<workgroup> partial: array<f32, ${R * COLS * LANES}>;

@compute @workgroup_size(${LANES}, ${COLS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let col = wid.x * ${COLS}u + lid.y;
  let row0 = wid.y * ${R}u;
  let rowLen = u.k${unit};
  let aBase = (wid.z * u.m * u.k + row0 * u.k)${unit};
  // Rows past M read row 0 again (in range) and are never stored.
  ${unrolled(R, (r) => `let a${r} = aBase + select(0u, ${r}u * rowLen, row0 + ${r}u < u.m);`)}
  ${unrolled(R, (r) => `var acc${r} = 0.0;`)}
  if (col < u.n) {
    let bBase = (wid.z * u.bStride + col * u.k)${unit};
    for (var kk = lid.x; kk < rowLen; kk += ${LANES}u) {
      let w = ${readB('bBase + kk')};
      ${unrolled(R, (r) => (v4 ? `acc${r} += dot(a[a${r} + kk], w);` : `acc${r} += a[a${r} + kk] * w;`))}
    }
  }
  ${unrolled(R, (r) => `partial[(${r}u * ${COLS}u + lid.y) * ${LANES}u + lid.x] = acc${r};`)}
  workgroupBarrier();
  // One thread per (row, column): the sum of its LANES partial sums, in lane order.
  if (li < ${R * COLS}u) {
    let r = li / ${COLS}u;
    let j = li % ${COLS}u;
    let outCol = wid.x * ${COLS}u + j;
    let outRow = row0 + r;
    if (outCol < u.n && outRow < u.m) {
      var s = 0.0;
      for (var l = 0u; l < ${LANES}u; l++) { s += partial[li * ${LANES}u + l]; }
      c[wid.z * u.m * u.n + outRow * u.n + outCol] = s${p.bias ? ' + bias[outCol]' : ''};
    }
  }
}`
}

export const matmulRows: GpuProgram<MatmulParams> = {
  key: (p) => [`r${rowsOf(p)}`, byFour(p) && 'v4', p.bias && 'bias', p.bDtype].filter(Boolean).join(','),
  code,
  dispatch: (p) => {
    if (!fitsRows(p)) throw new Error(`matmul v3: ${p.m}x${p.n}x${p.k} (transA ${p.transA}, transB ${p.transB}) is not a linear layer it runs`)
    return {workgroups: [ceilDiv(p.n, COLS), ceilDiv(p.m, rowsOf(p)), p.batch], uniforms: uniformWords(uniforms(p))}
  },
}
