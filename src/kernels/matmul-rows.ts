import {wgslHalfLoad} from './half-precision.js'
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

function code(p: MatmulParams): string {
  const R = rowsOf(p)
  const inputs = ['a: array<f32>', p.bDtype ? 'b: array<u32>' : 'b: array<f32>', ...(p.bias ? ['bias: array<f32>'] : [])]
  const readB = p.bDtype ? (i: string): string => `loadB(${i})` : (i: string): string => `b[${i}]`
  return wgsl`${bindings(inputs, ['c: array<f32>'], uniforms(p))}
${p.bDtype ? wgslHalfLoad('loadB', 'b', p.bDtype) : ''}
var<workgroup> partial: array<f32, ${R * COLS * LANES}>;

@compute @workgroup_size(${LANES}, ${COLS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let col = wid.x * ${COLS}u + lid.y;
  let row0 = wid.y * ${R}u;
  let aBase = wid.z * u.m * u.k + row0 * u.k;
  // Rows past M read row 0 again (in range) and are never stored.
  ${unrolled(R, (r) => `let a${r} = aBase + select(0u, ${r}u * u.k, row0 + ${r}u < u.m);`)}
  ${unrolled(R, (r) => `var acc${r} = 0.0;`)}
  if (col < u.n) {
    let bBase = wid.z * u.bStride + col * u.k;
    for (var kk = lid.x; kk < u.k; kk += ${LANES}u) {
      let w = ${readB('bBase + kk')};
      ${unrolled(R, (r) => `acc${r} += a[a${r} + kk] * w;`)}
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
  key: (p) => [`r${rowsOf(p)}`, p.bias && 'bias', p.bDtype].filter(Boolean).join(','),
  code,
  dispatch: (p) => {
    if (!fitsRows(p)) throw new Error(`matmul v3: ${p.m}x${p.n}x${p.k} (transA ${p.transA}, transB ${p.transB}) is not a linear layer it runs`)
    return {workgroups: [ceilDiv(p.n, COLS), ceilDiv(p.m, rowsOf(p)), p.batch], uniforms: uniformWords(uniforms(p))}
  },
}
