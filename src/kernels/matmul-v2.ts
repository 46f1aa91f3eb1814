import {wgslHalfWiden4} from './half-precision.js'
import {type GpuProgram} from './kernel.js'
import type {MatmulParams} from './matmul.js'
import {bindings, unrolled, uniformWords, wgsl, type UniformFields} from './wgsl.js'

/**
 * Matmul version 2 (matmul-wgsl.ts holds version 1 and picks): for shapes that fill whole tiles.
 * A workgroup computes a bm×bn tile of C, each thread tm×tn values as tm/4 × tn/4 blocks of 4×4
 * spread over the tile (so a warp's workgroup-memory reads are broadcasts or consecutive vec4s).
 * K advances in slices of bk through two workgroup buffers: the next slice is read from storage
 * into registers while the current one is multiplied, then stored to the other buffer, so there is
 * one barrier a slice. Storage is read and written as vec4; operands read along K are transposed
 * on their way into workgroup memory. Tiles are visited in groups of `group` tile rows, so the
 * workgroups in flight share A rows and B columns in L2.
 */
export interface MatmulTile {
  bm: number
  bn: number
  bk: number
  tm: number
  tn: number
  /** Tile rows per group in the launch order. */
  group: number
  /**
   * Unroll K within a slice and the slice loop by two (`k` a multiple of 2·bk), so every
   * workgroup-memory read has a constant offset from the thread's base: no address arithmetic
   * between the FMAs.
   */
  unroll?: boolean
}

export const DEFAULT_TILE: MatmulTile = {bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, group: 8}
/** The default tile with its slices unrolled: the fastest at 4096³ on the H200 (BENCHMARKS.md), where K is a multiple of 16. */
export const UNROLLED_TILE: MatmulTile = {...DEFAULT_TILE, unroll: true}
/** 16×8 values a thread: the fastest tile without unrolling (BENCHMARKS.md). */
export const WIDE_TILE: MatmulTile = {bm: 256, bn: 128, bk: 8, tm: 16, tn: 8, group: 8}

/** Whole tiles only, vec4 rows (4 | k, n), and a launch of at most 65535 workgroups per batch entry. */
export function fitsV2(p: MatmulParams, t: MatmulTile): boolean {
  const tiles = (p.m / t.bm) * (p.n / t.bn)
  return p.m % t.bm === 0 && p.n % t.bn === 0 && p.k % (t.unroll ? 2 * t.bk : t.bk) === 0 && p.k > 0 && tiles <= 65535 && p.batch <= 65535
}

const uniforms = (p: MatmulParams): UniformFields => [
  ['m', p.m],
  ['n', p.n],
  ['k', p.k],
  ['bStride', p.broadcastB ? 0 : p.k * p.n],
]

/** Registers `${reg}0..` <- one operand's slice from storage; `store` then writes them to buffer `buf`. */
interface OperandLoad {
  fetch: string
  store: (buf: string) => string
}

/**
 * One operand's bk-slice of `rows` (M for A, N for B) as vec4 loads. `alongK`: the operand is
 * contiguous along K (A, or Bᵀ), so each vec4 holds 4 k values and is stored as 4 scalars into
 * the k-major tile; otherwise it holds 4 rows/columns and is stored whole.
 */
function operandLoad(name: string, tile: string, alongK: boolean, rows: number, bk: number, threads: number, base: string, rowStride: string, rowOrigin: string, read = (v: string): string => v): OperandLoad {
  const count = (rows * bk) / 4 / threads
  if (!Number.isInteger(count) || count < 1) throw new Error(`matmul v2: a ${rows}x${bk} slice is not a whole number of vec4 loads for ${threads} threads`)
  const reg = `${name}r`
  const lines: string[] = []
  const stores: ((buf: string) => string)[] = []
  for (let i = 0; i < count; i++) {
    const l = `(li + ${i * threads}u)`
    if (alongK) {
      // l -> row l / (bk/4), k quad l % (bk/4)
      lines.push(`let ${reg}${i} = ${read(`${name}[${base} + (${rowOrigin} + ${l} / ${bk / 4}u) * (${rowStride}) + k0 / 4u + ${l} % ${bk / 4}u]`)};`)
      stores.push((buf) => {
        const row = `${l} / ${bk / 4}u`
        const k4 = `(${l} % ${bk / 4}u) * 4u`
        return unrolled(4, (c) => `${tile}[(((${buf}) * ${bk}u + ${k4} + ${c}u) * ${rows}u + ${row}) / 4u][${row} % 4u] = ${reg}${i}[${c}];`)
      })
    } else {
      // l -> k row l / (rows/4), vec4 l % (rows/4)
      lines.push(`let ${reg}${i} = ${read(`${name}[${base} + (k0 + ${l} / ${rows / 4}u) * (${rowStride}) + ${rowOrigin} / 4u + ${l} % ${rows / 4}u]`)};`)
      stores.push((buf) => `${tile}[((${buf}) * ${bk}u + ${l} / ${rows / 4}u) * ${rows / 4}u + ${l} % ${rows / 4}u] = ${reg}${i};`)
    }
  }
  // Registers are re-declared each slice, so the fetch is a block of lets and the store follows in the same scope.
  return {fetch: lines.join('\n'), store: (buf) => stores.map((s) => s(buf)).join('\n')}
}

function code(p: MatmulParams, t: MatmulTile): string {
  const {bm, bn, bk, tm, tn} = t
  const tx = bn / tn
  const ty = bm / tm
  const threads = tx * ty
  const rowBlocks = tm / 4
  const colBlocks = tn / 4
  // A half-precision B is bound as vec2u (four halves, the same index as a vec4f) and widened as loaded.
  const inputs = ['a: array<vec4f>', p.bDtype ? 'b: array<vec2u>' : 'b: array<vec4f>', ...(p.bias ? ['bias: array<vec4f>'] : [])]
  const readB = p.bDtype ? (v: string): string => `widenB(${v})` : undefined
  // A: [M, K] rows along K, or Aᵀ stored [K, M] rows along M. B: [K, N] rows along N, or Bᵀ stored [N, K].
  const aLoad = p.transA
    ? operandLoad('a', 'As', false, bm, bk, threads, 'aBase', 'u.m / 4u', 'row0')
    : operandLoad('a', 'As', true, bm, bk, threads, 'aBase', 'u.k / 4u', 'row0')
  const bLoad = p.transB
    ? operandLoad('b', 'Bs', true, bn, bk, threads, 'bBase', 'u.k / 4u', 'col0', readB)
    : operandLoad('b', 'Bs', false, bn, bk, threads, 'bBase', 'u.n / 4u', 'col0', readB)
  const acc = (i: number, j: number): string => `c${i}_${j}`
  /** One kk step: this thread's A and B vectors of row `kk` of buffer `buf` (offsets given as WGSL expressions), then its FMAs. */
  const multiply = (ao: string, bo: string, indent: string): string => [
    ...Array.from({length: rowBlocks}, (_, i) => `${indent}let a${i} = As[${ao} + ${(i * bm) / 4 / rowBlocks}u + ly];`),
    ...Array.from({length: colBlocks}, (_, j) => `${indent}let b${j} = Bs[${bo} + ${(j * bn) / 4 / colBlocks}u + lx];`),
    ...Array.from({length: tm * colBlocks}, (_, x) => {
      const [i, j] = [Math.floor(x / colBlocks), x % colBlocks]
      return `${indent}${acc(i, j)} = fma(vec4f(a${Math.floor(i / 4)}[${i % 4}]), b${j}, ${acc(i, j)});`
    }),
  ].join('\n')
  /**
   * One slice: the next slice (`cur` + 1; `cur` again on the last, read and never stored) into
   * registers, this thread's products over slice `cur` in buffer `buf`, then the registers into
   * buffer `other` and a barrier.
   */
  const slice = (cur: string, other: string, products: string): string => `      let more = ${cur} + 1u < slices;
      k0 = select(${cur}, ${cur} + 1u, more) * ${bk}u;
${aLoad.fetch}
${bLoad.fetch}
${products}
      if (more) {
${aLoad.store(other)}
${bLoad.store(other)}
      }
      workgroupBarrier();`
  const loop = (): string => `  for (var s = 0u; s < slices; s++) {
    let buf = s % 2u;
${slice('s', '1u - buf', `      for (var kk = 0u; kk < ${bk}u; kk++) {\n${multiply(`(buf * ${bk}u + kk) * ${bm / 4}u`, `(buf * ${bk}u + kk) * ${bn / 4}u`, '        ')}\n      }`)}
  }`
  // Two slices an iteration, buffer 0 then 1, each kk its own block: every offset is a constant.
  const step = (buf: number): string =>
    `    {\n${slice(`(s + ${buf}u)`, `${1 - buf}u`, Array.from({length: bk}, (_, kk) => `      {\n${multiply(`${(buf * bk + kk) * (bm / 4)}u`, `${(buf * bk + kk) * (bn / 4)}u`, '        ')}\n      }`).join('\n'))}\n    }`
  const unrolledLoop = (): string => `  for (var s = 0u; s < slices; s += 2u) {
${step(0)}
${step(1)}
  }`
  return wgsl`${bindings(inputs, ['c: array<vec4f>'], uniforms(p))}
${p.bDtype ? wgslHalfWiden4('widenB', p.bDtype) : ''}
var<workgroup> As: array<vec4f, ${(2 * bk * bm) / 4}>;
var<workgroup> Bs: array<vec4f, ${(2 * bk * bn) / 4}>;

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  // Grouped launch order: ${t.group} tile rows at a time, column by column within the group.
  let tilesM = u.m / ${bm}u;
  let tilesN = u.n / ${bn}u;
  let perGroup = ${t.group}u * tilesN;
  let firstRow = (wid.x / perGroup) * ${t.group}u;
  let rowsHere = min(tilesM - firstRow, ${t.group}u);
  let tileM = firstRow + (wid.x % perGroup) % rowsHere;
  let tileN = (wid.x % perGroup) / rowsHere;
  let row0 = tileM * ${bm}u;
  let col0 = tileN * ${bn}u;
  let aBase = wid.z * u.m * u.k / 4u;
  let bBase = wid.z * u.bStride / 4u;
  let lx = li % ${tx}u;
  let ly = li / ${tx}u;
${unrolled(tm, (i) => unrolled(colBlocks, (j) => `  var ${acc(i, j)} = vec4f(0.0);`))}
  var k0 = 0u;
  {
${aLoad.fetch}
${bLoad.fetch}
${aLoad.store('0u')}
${bLoad.store('0u')}
  }
  workgroupBarrier();
  let slices = u.k / ${bk}u;
${t.unroll ? unrolledLoop() : loop()}
  let cBase = wid.z * u.m * u.n / 4u;
${unrolled(tm, (i) => {
  const row = `row0 + ${Math.floor(i / 4) * (bm / rowBlocks)}u + ly * 4u + ${i % 4}u`
  return unrolled(colBlocks, (j) => {
    const col4 = `col0 / 4u + ${(j * bn) / 4 / colBlocks}u + lx`
    return `  c[cBase + (${row}) * (u.n / 4u) + ${col4}] = ${acc(i, j)}${p.bias ? ` + bias[${col4}]` : ''};`
  })
})}
}`
}

export function matmulV2(tileOf: (p: MatmulParams) => MatmulTile): GpuProgram<MatmulParams> {
  return {
    key: (p) => {
      const t = tileOf(p)
      return [`${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn}g${t.group}${t.unroll ? 'u' : ''}`, p.transA && 'tA', p.transB && 'tB', p.bias && 'bias', p.bDtype].filter(Boolean).join(',')
    },
    code: (p) => code(p, tileOf(p)),
    dispatch: (p) => {
      const t = tileOf(p)
      if (!fitsV2(p, t)) throw new Error(`matmul v2: ${p.m}x${p.n}x${p.k} does not fill ${t.bm}x${t.bn}x${t.bk} tiles`)
      return {workgroups: [(p.m / t.bm) * (p.n / t.bn), 1, p.batch], uniforms: uniformWords(uniforms(p))}
    },
  }
}
