import type {DeviceFeatures} from './device-features.js'
import {halfAt} from './f16.js'
import {ceilDiv, type GpuProgram, type Kernel} from './kernel.js'
import {matmulCpu} from './matmul.js'
import {bindings, unrolled, uniformWords, versioned, wgsl, type UniformFields} from './wgsl.js'

/**
 * Matmul of f16 operands with f32 accumulation and an f32 result:
 *   a: A [m, k] as packed f16 words (f16.ts)   b: B [k, n], or Bᵀ stored [n, k] when `transB`
 *   c: [m, n] f32
 * Two WGSL paths: with `tensorCores` (a device that has `chromium-experimental-subgroup-matrix`
 * with an f16 -> f32 16×16×16 configuration, see `tensorCoreSupport`), subgroup matrices, which
 * Dawn lowers to Vulkan cooperative matrices (tensor cores on NVIDIA); otherwise a CUDA-core
 * tiled kernel that unpacks the halves to f32. Both compute the CPU twin's function: products of
 * the same f16 values summed in f32 (the order differs).
 */
export interface MatmulF16Params {
  m: number
  n: number
  k: number
  transB: boolean
  /** Set from `tensorCoreSupport(backend)`; absent: the CUDA-core path. */
  tensorCores?: TensorCores
}

export interface TensorCores {
  /** The device's (fixed) subgroup size: a workgroup is `subgroupsM × subgroupsN` of them. */
  subgroupSize: number
  /** `DEFAULT_TC_TILE` from `tensorCoreSupport`; dev/kernels/matmul-f16.ts sweeps others. */
  tile: TensorCoreTile
}

/** Subgroups per workgroup along M and N, and 16×16 result fragments per subgroup along each. */
export interface TensorCoreTile {
  subgroupsM: number
  subgroupsN: number
  fragmentsM: number
  fragmentsN: number
  /** K values staged a slice in versions 3 to 6 (default 32): deeper slices, fewer barriers. */
  stageK?: number
}

/** 2×2 subgroups of 4×4 fragments (128×128 a workgroup) measured fastest on the H200 (BENCHMARKS.md). */
export const DEFAULT_TC_TILE: TensorCoreTile = {subgroupsM: 2, subgroupsN: 2, fragmentsM: 4, fragmentsN: 4}

const FRAG = 16
const FEATURE = 'chromium-experimental-subgroup-matrix'

/** Tensor cores for `matmulF16` when the backend (any; only a WebGPU one has DeviceFeatures) has subgroup matrices of f16 -> f32 at 16×16×16 and one subgroup size. */
export function tensorCoreSupport(backend: object): TensorCores | undefined {
  if (!('subgroups' in backend && 'features' in backend)) return undefined
  const {features, subgroups} = backend as DeviceFeatures
  if (![FEATURE, 'shader-f16', 'subgroups'].every((f) => features.includes(f))) return undefined
  const config = subgroups.matrixConfigs.some((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M === FRAG && c.N === FRAG && c.K === FRAG)
  if (!config || !subgroups.maxSize || subgroups.minSize !== subgroups.maxSize) return undefined
  return {subgroupSize: subgroups.maxSize, tile: DEFAULT_TC_TILE}
}

const tcTile = (p: MatmulF16Params): TensorCoreTile => p.tensorCores!.tile
const tcRows = (t: TensorCoreTile): number => t.subgroupsM * t.fragmentsM * FRAG
const tcCols = (t: TensorCoreTile): number => t.subgroupsN * t.fragmentsN * FRAG
const tcFits = (p: MatmulF16Params, kStep: number): boolean => {
  const t = tcTile(p)
  return p.m % tcRows(t) === 0 && p.n % tcCols(t) === 0 && p.k % kStep === 0 && p.k > 0
}

const uniforms = (p: MatmulF16Params): UniformFields => [['m', p.m], ['n', p.n], ['k', p.k]]

const TC_HEADER = `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium_experimental.subgroup_matrix_uniformity);
alias L = subgroup_matrix_left<f16, ${FRAG}, ${FRAG}>;
alias R = subgroup_matrix_right<f16, ${FRAG}, ${FRAG}>;
alias Acc = subgroup_matrix_result<f32, ${FRAG}, ${FRAG}>;`

/** Common shape of the two tensor-core versions: workgroup grid, key, and the per-subgroup accumulate-and-store frame. */
function tensorCoreProgram(name: string, fits: (p: MatmulF16Params) => boolean, body: (p: MatmulF16Params, t: TensorCoreTile) => string): GpuProgram<MatmulF16Params> {
  return {
    key: (p) => {
      const t = tcTile(p)
      return `${name}${p.tensorCores!.subgroupSize},${t.subgroupsM}x${t.subgroupsN}x${t.fragmentsM}x${t.fragmentsN}k${stageK(p)}${p.transB ? ',tB' : ''}`
    },
    dispatch: (p) => {
      const t = tcTile(p)
      if (!fits(p)) throw new Error(`matmul_f16 ${name}: ${p.m}x${p.n}x${p.k} does not fill ${tcRows(t)}x${tcCols(t)} tiles`)
      return {workgroups: [p.n / tcCols(t), p.m / tcRows(t), 1], uniforms: uniformWords(uniforms(p))}
    },
    code: (p) => body(p, tcTile(p)),
  }
}

const accumulators = (t: TensorCoreTile): string => unrolled(t.fragmentsM, (i) => unrolled(t.fragmentsN, (j) => `  var acc${i}_${j} = Acc();`))
const multiplies = (t: TensorCoreTile): string =>
  unrolled(t.fragmentsM, (i) => unrolled(t.fragmentsN, (j) => `      acc${i}_${j} = subgroupMatrixMultiplyAccumulate(l${i}, r${j}, acc${i}_${j});`))
const stores = (t: TensorCoreTile): string =>
  unrolled(t.fragmentsM, (i) => unrolled(t.fragmentsN, (j) => `  subgroupMatrixStore<row_major>(&c, (row + ${i * FRAG}u) * u.n + col + ${j * FRAG}u, acc${i}_${j}, u.n);`))
/** This subgroup's first result row and column. */
const origin = (t: TensorCoreTile): string => `  let row = wid.y * ${tcRows(t)}u + (sg / ${t.subgroupsN}u) * ${t.fragmentsM * FRAG}u;
  let col = wid.x * ${tcCols(t)}u + (sg % ${t.subgroupsN}u) * ${t.fragmentsN * FRAG}u;`
const threadsOf = (p: MatmulF16Params, t: TensorCoreTile): number => t.subgroupsM * t.subgroupsN * p.tensorCores!.subgroupSize

/**
 * Tensor-core version 2: each subgroup accumulates fragmentsM × fragmentsN 16×16 result fragments,
 * loading its left (A) and right (B) fragments straight from storage every 16 values of K; the
 * subgroups of a workgroup share those loads only through the L1 cache.
 */
export const tensorCoreDirect = tensorCoreProgram('direct', (p) => tcFits(p, 16), (p, t) => {
  const right = (j: number): string =>
    p.transB
      ? `subgroupMatrixLoad<R, col_major>(&b, (col + ${j * FRAG}u) * u.k + k0, u.k)`
      : `subgroupMatrixLoad<R, row_major>(&b, k0 * u.n + col + ${j * FRAG}u, u.n)`
  return wgsl`${TC_HEADER}
${bindings(['a: array<f16>', 'b: array<f16>'], ['c: array<f32>'], uniforms(p))}

@compute @workgroup_size(${threadsOf(p, t)})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_id) sg: u32) {
${origin(t)}
${accumulators(t)}
  for (var k0 = 0u; k0 < u.k; k0 += ${FRAG}u) {
${unrolled(t.fragmentsM, (i) => `      let l${i} = subgroupMatrixLoad<L, row_major>(&a, (row + ${i * FRAG}u) * u.k + k0, u.k);`)}
${unrolled(t.fragmentsN, (j) => `      let r${j} = ${right(j)};`)}
${multiplies(t)}
  }
${stores(t)}
}`
})

/** K values a workgroup stages at once in versions 3 to 6 unless the tile says, and the padding of its rows (keeps 16-byte rows off one bank). */
const STAGE_K = 32
const stageK = (p: MatmulF16Params): number => tcTile(p).stageK ?? STAGE_K
const PAD = 8

/**
 * Tensor-core versions 3 to 6: the workgroup stages its A and B slices (`stageK` deep, 32 unless
 * the tile says) in workgroup memory, read from storage as 16-byte words of 8 halves by all
 * threads, then every subgroup loads its fragments from there. Version 3 stores the halves one by
 * one into an array<f16>; version 4 stores each 16-byte word whole into an array<vec4u> and loads
 * fragments with the reinterpreting overload, whose offset and stride count the array's 16-byte
 * elements (Tint's validator says so: the access it checks is stride · 16 bytes). Both have two
 * barriers a slice. Version 5 is version 4 with two buffers: the next slice is read into registers while
 * the current one is multiplied, one barrier a slice. Version 6 (`constOffsets`) is version 4
 * with constant fragment offsets (below).
 */
export function tensorCoreStaged(wide: boolean, buffers: 1 | 2, constOffsets = false): GpuProgram<MatmulF16Params> {
  const name = constOffsets ? 'staged16Bconst' : buffers === 2 ? 'staged16Bx2' : wide ? 'staged16B' : 'staged'
  return tensorCoreProgram(name, (p) => tcFits(p, stageK(p)) && p.n % 8 === 0, (p, t) => {
    const depth = stageK(p)
    const bm = tcRows(t)
    const bn = tcCols(t)
    const threads = threadsOf(p, t)
    const sa = depth + PAD
    // B staged as [k][n] (row-major right fragments) or, for Bᵀ, [n][k] (column-major).
    const [bRows, bCols] = p.transB ? [bn, depth] : [depth, bn]
    const sb = bCols + PAD
    const unit = wide ? 8 : 1
    const aSize = (bm * sa) / unit
    const bSize = (bRows * sb) / unit
    /** A fragment's offset (given in halves, plus a buffer's start in array elements) and stride in the units the load counts. */
    const at = (offset: string, stride: number, buffer: string): string => `${buffer} + (${offset}) / ${unit}u, ${stride / unit}u`
    /**
     * Copy a rows×cols block of halves (row stride `stride` in storage) into a workgroup array of
     * row stride `ws`: `fetch` reads the words into registers `${reg}i`, `store` writes them at a buffer's start.
     */
    const stage = (reg: string, src: string, dst: string, rows: number, cols: number, origin: string, stride: string, ws: number) => {
      const words = (rows * cols) / 8
      if (words % threads) throw new Error(`matmul_f16 staged: ${rows}x${cols} halves do not split over ${threads} threads`)
      const n = words / threads
      const l = (w: number): string => `(li + ${w * threads}u)`
      const r = (w: number): string => `(${l(w)} / ${cols / 8}u)`
      const c8 = (w: number): string => `((${l(w)} % ${cols / 8}u) * 8u)`
      return {
        fetch: unrolled(n, (w) => `    let ${reg}${w} = ${src}[(${origin} + ${r(w)} * ${stride} + ${c8(w)}) / 8u];`),
        store: (buffer: string) =>
          unrolled(n, (w) =>
            wide
              ? `    ${dst}[${buffer} + (${r(w)} * ${ws}u + ${c8(w)}) / 8u] = ${reg}${w};`
              : unrolled(4, (q) => `    ${dst}[${r(w)} * ${ws}u + ${c8(w)} + ${2 * q}u] = bitcast<vec2<f16>>(${reg}${w}[${q}]).x;\n    ${dst}[${r(w)} * ${ws}u + ${c8(w)} + ${2 * q + 1}u] = bitcast<vec2<f16>>(${reg}${w}[${q}]).y;`),
          ),
      }
    }
    const aStage = stage('wa', 'a', 'As', bm, depth, `(wid.y * ${bm}u) * u.k + k0`, 'u.k', sa)
    const bStage = p.transB ? stage('wb', 'b', 'Bs', bn, depth, `(wid.x * ${bn}u) * u.k + k0`, 'u.k', sb) : stage('wb', 'b', 'Bs', depth, bn, `k0 * u.n + wid.x * ${bn}u`, 'u.n', sb)
    // Fragment offsets in halves: A rows `ar`, B columns `bc`, K step `kk`, as WGSL expressions or numbers.
    const aOffset = (i: number, ar: string, kk: string): string => `(${ar} + ${i * FRAG}u) * ${sa}u + ${kk}`
    const bOffset = (j: number, bc: string, kk: string): string => (p.transB ? `(${bc} + ${j * FRAG}u) * ${sb}u + ${kk}` : `${kk} * ${sb}u + ${bc} + ${j * FRAG}u`)
    const bLayout = p.transB ? 'col_major' : 'row_major'
    const fragments = (ar: string, bc: string, kk: string, aBuffer: string, bBuffer: string, indent: string): string =>
      [
        ...Array.from({length: t.fragmentsM}, (_, i) => `${indent}let l${i} = subgroupMatrixLoad<L, row_major>(&As, ${at(aOffset(i, ar, kk), sa, aBuffer)});`),
        ...Array.from({length: t.fragmentsN}, (_, j) => `${indent}let r${j} = subgroupMatrixLoad<R, ${bLayout}>(&Bs, ${at(bOffset(j, bc, kk), sb, bBuffer)});`),
        multiplies(t),
      ].join('\n')
    /**
     * Version 6 (the default): version 4 with one switch case per subgroup and the K steps
     * written out, so every fragment load's offset is a constant. Under Dawn's robustness each
     * subgroup-matrix load is wrapped in a bounds test (predication); with constant offsets the
     * test is constant and compiles away.
     */
    const multiply = (aBuffer: string, bBuffer: string): string =>
      constOffsets
        ? `    switch sg {
${Array.from({length: t.subgroupsM * t.subgroupsN}, (_, g) => {
  const ar = `${Math.floor(g / t.subgroupsN) * t.fragmentsM * FRAG}u`
  const bc = `${(g % t.subgroupsN) * t.fragmentsN * FRAG}u`
  const steps = Array.from({length: depth / FRAG}, (_, q) => `        {\n${fragments(ar, bc, `${q * FRAG}u`, aBuffer, bBuffer, '          ')}\n        }`)
  return `      case ${g}u: {\n${steps.join('\n')}\n      }`
}).join('\n')}
      default: {}
    }`
        : `    for (var kk = 0u; kk < ${depth}u; kk += ${FRAG}u) {
${fragments('ar', 'bc', 'kk', aBuffer, bBuffer, '      ')}
    }`
    const array = (elements: number): string => (wide ? `array<vec4u, ${elements * buffers}>` : `array<f16, ${elements}>`)
    const loop =
      buffers === 1
        ? `  for (var k0 = 0u; k0 < u.k; k0 += ${depth}u) {
${aStage.fetch}
${bStage.fetch}
${aStage.store('0u')}
${bStage.store('0u')}
    workgroupBarrier();
${multiply('0u', '0u')}
    workgroupBarrier();
  }`
        : `  var k0 = 0u;
  {
${aStage.fetch}
${bStage.fetch}
${aStage.store('0u')}
${bStage.store('0u')}
  }
  workgroupBarrier();
  let slices = u.k / ${depth}u;
  for (var s = 0u; s < slices; s++) {
    let buf = s % 2u;
    let more = s + 1u < slices;
    // The next slice (the last one again on the final step: read, never stored).
    k0 = select(s, s + 1u, more) * ${depth}u;
${aStage.fetch}
${bStage.fetch}
${multiply(`buf * ${aSize}u`, `buf * ${bSize}u`)}
    if (more) {
${aStage.store(`(1u - buf) * ${aSize}u`)}
${bStage.store(`(1u - buf) * ${bSize}u`)}
    }
    workgroupBarrier();
  }`
    return wgsl`${TC_HEADER}
${bindings(['a: array<vec4u>', 'b: array<vec4u>'], ['c: array<f32>'], uniforms(p))}
var<workgroup> As: ${array(aSize)};
var<workgroup> Bs: ${array(bSize)};

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_id) sg: u32, @builtin(local_invocation_index) li: u32) {
${origin(t)}
${
  constOffsets
    ? ''
    : `  // This subgroup's rows of As and columns of B within the workgroup tile.
  let ar = (sg / ${t.subgroupsN}u) * ${t.fragmentsM * FRAG}u;
  let bc = (sg % ${t.subgroupsN}u) * ${t.fragmentsN * FRAG}u;`
}
${accumulators(t)}
${loop}
${stores(t)}
}`
  })
}

/** CUDA-core path, any shape: 64×64 tiles, 4×4 values a thread, halves unpacked into f32 workgroup tiles. */
const TILE = 64
const TK = 16
export const unpackedGpu: GpuProgram<MatmulF16Params> = {
  key: (p) => (p.transB ? 'tB' : ''),
  dispatch: (p) => ({workgroups: [ceilDiv(p.n, TILE), ceilDiv(p.m, TILE), 1], uniforms: uniformWords(uniforms(p))}),
  code: (p) => wgsl`${bindings(['a: array<u32>', 'b: array<u32>'], ['c: array<f32>'], uniforms(p))}
var<workgroup> As: array<f32, ${TILE * TK}>;
var<workgroup> Bs: array<f32, ${TILE * TK}>;

fn halfA(i: u32) -> f32 { return unpack2x16float(a[i / 2u])[i % 2u]; }
fn halfB(i: u32) -> f32 { return unpack2x16float(b[i / 2u])[i % 2u]; }

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row0 = wid.y * ${TILE}u;
  let col0 = wid.x * ${TILE}u;
  var acc = array<f32, 16>();
  for (var k0 = 0u; k0 < u.k; k0 += ${TK}u) {
    for (var l = li; l < ${TILE * TK}u; l += 256u) {
      let i = l / ${TK}u;
      let kk = l % ${TK}u;
      var x = 0.0;
      if (row0 + i < u.m && k0 + kk < u.k) { x = halfA((row0 + i) * u.k + k0 + kk); }
      As[kk * ${TILE}u + i] = x;
      var y = 0.0;
      ${p.transB
        ? `if (col0 + i < u.n && k0 + kk < u.k) { y = halfB((col0 + i) * u.k + k0 + kk); }
      Bs[kk * ${TILE}u + i] = y;`
        : `let kr = l / ${TILE}u;
      let j = l % ${TILE}u;
      if (col0 + j < u.n && k0 + kr < u.k) { y = halfB((k0 + kr) * u.n + col0 + j); }
      Bs[kr * ${TILE}u + j] = y;`}
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk++) {
      for (var i = 0u; i < 4u; i++) {
        let x = As[kk * ${TILE}u + lid.y + 16u * i];
        for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] += x * Bs[kk * ${TILE}u + lid.x + 16u * j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      let r = row0 + lid.y + 16u * i;
      let col = col0 + lid.x + 16u * j;
      if (r < u.m && col < u.n) { c[r * u.n + col] = acc[i * 4u + j]; }
    }
  }
}`,
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a)
const lcm = (a: number, b: number): number => (a / gcd(a, b)) * b

/**
 * The multiple that ops.ts#halfProduct pads M, N and K to (the zeros packed by pack_f16_exact), so
 * that every product runs version 6 on whole tiles: any other shape would fall to the CUDA-core
 * path (pickF16Version), ~14x slower on Llama's 8224-wide in_proj and 1046-row LM head chunks
 * (issue 20). One multiple for all three, so that a weight's cached padded copy fits both its
 * forward (Bᵀ: [N, K]) and its input gradient's product (B: [K = N, N = K]).
 */
export function tensorCoreMultiple(tc: TensorCores): number {
  const t = tc.tile
  return lcm(lcm(tcRows(t), tcCols(t)), lcm(t.stageK ?? STAGE_K, 8))
}

/**
 * Staged tensor cores (version 6), direct ones (2), or the CUDA-core path (1), the first whose shape
 * fits. Versions 3 to 5, staged otherwise, are kept in dev/kernels/matmul-f16.ts for the benchmark history.
 */
export function pickF16Version(p: MatmulF16Params): 1 | 2 | 6 {
  const tc = p.tensorCores
  if (!tc) return 1
  if (tcFits(p, stageK(p)) && p.n % 8 === 0) return 6
  return tcFits(p, FRAG) ? 2 : 1
}

export const matmulF16: Kernel<MatmulF16Params> = {
  name: 'matmul_f16',
  cpu: (p, [a, b], [c]) => {
    const unpack = (halves: ArrayLike<number>, n: number): Float32Array => Float32Array.from({length: n}, (_, i) => halfAt(halves, i))
    const params = {batch: 1, m: p.m, n: p.n, k: p.k, transA: false, transB: p.transB, broadcastB: false, bias: false}
    matmulCpu(params, [unpack(a, p.m * p.k), unpack(b, p.k * p.n)], [c as Float32Array])
  },
  gpu: versioned<MatmulF16Params>({1: unpackedGpu, 2: tensorCoreDirect, 6: tensorCoreStaged(true, 1, true)}, pickF16Version),
}
