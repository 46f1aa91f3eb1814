import {wgslHalfLoad} from './half-precision.js'
import {ceilDiv, type GpuProgram} from './kernel.js'
import type {MatmulParams} from './matmul.js'
import {fitsRows, matmulRows} from './matmul-rows.js'
import {DEFAULT_TILE, fitsV2, matmulV2, UNROLLED_TILE, WIDE_TILE, type MatmulTile} from './matmul-v2.js'
import {bindings, uniformWords, versioned, wgsl, type UniformFields} from './wgsl.js'

/**
 * The WGSL side of `matmul` (matmul.ts holds the shapes and the CPU twin): version 3
 * (matmul-rows.ts) for a linear layer over a few rows (a decode step), version 2 (matmul-v2.ts)
 * where the shape fills one of its tiles (`tileOf` below), else version 1.
 *
 * Version 1, any shape. Tiled: a workgroup of
 * 16×16 threads computes one 64×64 tile of C, each thread a 4×4 block strided by 16 (so stores
 * and shared-memory reads stay contiguous across threads), stepping K in slices of 16 through
 * workgroup memory. Loads and stores are bounds-checked unless M, N and K fit the tile ("fit"
 * in the key). Transposes are compile-time, so each variant reads its operand in order.
 */
const TILE = 64
const TK = 16
const THREADS = 16
const PER = TILE / THREADS
const LOADS = (TILE * TK) / (THREADS * THREADS)

const fits = (p: MatmulParams): boolean => p.m % TILE === 0 && p.n % TILE === 0 && p.k % TK === 0

const uniforms = (p: MatmulParams): UniformFields => [['m', p.m], ['n', p.n], ['k', p.k], ['bStride', p.broadcastB ? 0 : p.k * p.n]]

/** `As[kk][i] = A[gi, gk]`-style tile load of one operand, guarded unless the shapes fit; `src` reads one element. */
function tileLoad(tile: string, src: (index: string) => string, index: string, inRange: string, fit: boolean): string {
  return fit ? `${tile} = ${src(index)};` : `var v = 0.0; if (${inRange}) { v = ${src(index)}; } ${tile} = v;`
}

function code(p: MatmulParams): string {
  const fit = fits(p)
  // Half-precision B is bound as packed u32 words and widened as each element enters the tile.
  const inputs = ['a: array<f32>', p.bDtype ? 'b: array<u32>' : 'b: array<f32>', ...(p.bias ? ['bias: array<f32>'] : [])]
  const readB = p.bDtype ? (i: string): string => `loadB(${i})` : (i: string): string => `b[${i}]`
  // Loads walk along the operand's contiguous dimension: K for A, M for Aᵀ, N for B, K for Bᵀ.
  const aCoords = p.transA ? 'let kk = l / T; let i = l % T;' : 'let i = l / TK; let kk = l % TK;'
  const aIndex = p.transA ? 'aBase + gk * u.m + gi' : 'aBase + gi * u.k + gk'
  const bCoords = p.transB ? 'let j = l / TK; let kk = l % TK;' : 'let kk = l / T; let j = l % T;'
  const bIndex = p.transB ? 'bBase + gj * u.k + gk' : 'bBase + gk * u.n + gj'
  const store = `c[cBase + r * u.n + col] = acc[i * ${PER}u + j]${p.bias ? ' + bias[col]' : ''};`
  return wgsl`${bindings(inputs, ['c: array<f32>'], uniforms(p))}
${p.bDtype ? wgslHalfLoad('loadB', 'b', p.bDtype) : ''}
const T = ${TILE}u;
const TK = ${TK}u;
var<workgroup> As: array<f32, ${TILE * TK}>;
var<workgroup> Bs: array<f32, ${TILE * TK}>;

@compute @workgroup_size(${THREADS}, ${THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row0 = wid.y * T;
  let col0 = wid.x * T;
  let aBase = wid.z * u.m * u.k;
  let bBase = wid.z * u.bStride;
  let cBase = wid.z * u.m * u.n;
  var acc = array<f32, ${PER * PER}>();
  for (var k0 = 0u; k0 < u.k; k0 += TK) {
    for (var load = 0u; load < ${LOADS}u; load++) {
      let l = li + load * ${THREADS * THREADS}u;
      {
        ${aCoords}
        let gi = row0 + i;
        let gk = k0 + kk;
        ${tileLoad('As[kk * T + i]', (i) => `a[${i}]`, aIndex, 'gi < u.m && gk < u.k', fit)}
      }
      {
        ${bCoords}
        let gj = col0 + j;
        let gk = k0 + kk;
        ${tileLoad('Bs[kk * T + j]', readB, bIndex, 'gj < u.n && gk < u.k', fit)}
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var ar = array<f32, ${PER}>();
      var br = array<f32, ${PER}>();
      for (var i = 0u; i < ${PER}u; i++) { ar[i] = As[kk * T + lid.y + i * ${THREADS}u]; }
      for (var j = 0u; j < ${PER}u; j++) { br[j] = Bs[kk * T + lid.x + j * ${THREADS}u]; }
      for (var i = 0u; i < ${PER}u; i++) {
        for (var j = 0u; j < ${PER}u; j++) { acc[i * ${PER}u + j] += ar[i] * br[j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${PER}u; i++) {
    let r = row0 + lid.y + i * ${THREADS}u;
    for (var j = 0u; j < ${PER}u; j++) {
      let col = col0 + lid.x + j * ${THREADS}u;
      ${fit ? store : `if (r < u.m && col < u.n) { ${store} }`}
    }
  }
}`
}

export const matmulV1: GpuProgram<MatmulParams> = {
  key: (p) => [p.transA && 'tA', p.transB && 'tB', p.bias && 'bias', fits(p) && 'fit', p.bDtype].filter(Boolean).join(','),
  code,
  dispatch: (p) => {
    if (p.batch > 65535) throw new Error(`matmul: a batch of ${p.batch} exceeds WebGPU's 65535 workgroups per dimension`)
    return {workgroups: [ceilDiv(p.n, TILE), ceilDiv(p.m, TILE), p.batch], uniforms: uniformWords(uniforms(p))}
  },
}

/**
 * A launch of fewer workgroups than this leaves a large GPU's SMs idle however fast each one runs
 * (an H100 or H200 has 132): the first decode sweep's batches of 128 to 1024 gave 2048-wide
 * projections 16 to 64 tiles of 256×128, each walking K alone.
 */
export const MIN_WORKGROUPS = 128
/** Multiply-adds below which a launch takes microseconds whatever its tiles: the tile order stands there. */
const SHORT_LAUNCH_MACS = 2 ** 27

/**
 * Whether tile t gives the GPU enough workgroups. Asked of linear layers' forwards (x Wᵀ) only: a decode step's
 * rows are its batch; training's forwards have thousands of rows and pass, and its backward matmuls keep the
 * measured tile order until the smaller tiles are timed against it there.
 */
const fillsGpu = (p: MatmulParams, t: MatmulTile): boolean =>
  !p.transB || p.transA || p.batch * p.m * p.n * p.k < SHORT_LAUNCH_MACS || p.batch * (p.m / t.bm) * (p.n / t.bn) >= MIN_WORKGROUPS

/**
 * The first of these tiles that the shape fills and that gives the GPU enough workgroups, else the
 * first it fills; fastest first on the H200 (BENCHMARKS.md): with Bᵀ (a linear layer's forward)
 * the 256×128 tile leads, otherwise the unrolled 128×128 one.
 */
const TILES = [UNROLLED_TILE, WIDE_TILE, DEFAULT_TILE]
const TILES_BT = [WIDE_TILE, UNROLLED_TILE, DEFAULT_TILE]
export const matmulTileOf = (p: MatmulParams): MatmulTile => {
  const filled = (p.transB ? TILES_BT : TILES).filter((t) => fitsV2(p, t))
  return filled.find((t) => fillsGpu(p, t)) ?? filled[0] ?? DEFAULT_TILE
}

/**
 * Linear layers over at most this many rows (a decode step's batch) take version 3 (matmul-rows.ts), whose
 * workgroups span N instead of 64-row tiles; above it the tiles' reuse of each weight across rows wins.
 */
export const ROWS_VERSION_MAX_M = 64

/**
 * The version `matmul` runs: 3 for a linear layer over few rows; 2 where the shape fills one of its tiles and they
 * are enough workgroups; else 1, whose 64×64 tiles are four to eight times as many.
 */
export const matmulVersionOf = (p: MatmulParams): 1 | 2 | 3 => {
  if (p.m <= ROWS_VERSION_MAX_M && fitsRows(p)) return 3
  const tile = matmulTileOf(p)
  return fitsV2(p, tile) && fillsGpu(p, tile) ? 2 : 1
}

/** dev/kernels/matmul.ts forces a version, and other tiles. */
export const matmulGpu: GpuProgram<MatmulParams> = versioned<MatmulParams>({1: matmulV1, 2: matmulV2(matmulTileOf), 3: matmulRows}, matmulVersionOf)
