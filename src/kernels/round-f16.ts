import {f16Bits, f16Value, packF16, packedWords, storePacked} from './f16.js'
import {rangeExponent, WGSL_RANGE_EXPONENT} from './f16-range.js'
import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, type UniformFields} from './wgsl.js'

/**
 * The operands of a mixed-precision matmul, rounded to f16 exactly as f16.ts's `f16Bits` rounds on
 * the host (to nearest even, subnormals kept, overflow to ±inf), in integer arithmetic on the
 * f32 bits, so every device gives the same halves. WGSL's own f32 -> f16 conversions may round
 * either way and leave an overflow indeterminate, and an overflow must read as inf: that is how
 * loss scaling finds a step to skip.
 */
export interface RoundF16Params {
  /** Values (not words). */
  n: number
}

/** WGSL: the binary16 bits of the f32 whose bits are `bits` (f16.ts's f16Bits, line for line). */
export const F16_BITS = `fn f16_bits(bits: u32) -> u32 {
  let sign = (bits >> 16u) & 0x8000u;
  let e8 = (bits >> 23u) & 0xffu;
  let mant = bits & 0x7fffffu;
  if (e8 == 0xffu) { return sign | 0x7c00u | select(0u, 0x200u, mant != 0u); }
  let e = i32(e8) - 112;
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    let full = mant | 0x800000u;
    let shift = u32(14 - e);
    let half = full >> shift;
    let rest = full & ((1u << shift) - 1u);
    let mid = 1u << (shift - 1u);
    return sign | (half + select(0u, 1u, rest > mid || (rest == mid && (half & 1u) == 1u)));
  }
  let half = (u32(e) << 10u) | (mant >> 13u);
  let rest = mant & 0x1fffu;
  return sign | (half + select(0u, 1u, rest > 0x1000u || (rest == 0x1000u && (half & 1u) == 1u)));
}`

/** WGSL: the f32 bits of binary16 bits `h` (f16Value; every half is an exact f32, subnormals normal ones). */
const F32_BITS = `fn f32_bits(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0x1fu) { return sign | 0x7f800000u | (m << 13u); }
  if (e != 0u) { return sign | ((e + 112u) << 23u) | (m << 13u); }
  if (m == 0u) { return sign; }
  // m · 2^-24: the leading bit p of m gives the exponent p - 24.
  let p = firstLeadingBit(m);
  return sign | ((p + 103u) << 23u) | ((m << (23u - p)) & 0x7fffffu);
}`

const uniforms = (p: RoundF16Params, count: number): UniformFields => [['count', count], ['n', p.n]]

/** x [n] f32 -> [n] f32, each value rounded to the nearest f16 (the CPU and llvmpipe's mixed-precision operands). */
export const roundF16: Kernel<RoundF16Params> = {
  name: 'round_f16',
  cpu: (p, [x], [out]) => {
    for (let i = 0; i < p.n; i++) out[i] = f16Value(f16Bits(x[i]))
  },
  gpu: {
    key: () => '',
    code: (p) => flatShader(`${bindings(['x: array<u32>'], ['out: array<u32>'], uniforms(p, p.n))}\n${F16_BITS}\n${F32_BITS}`, '  out[i] = f32_bits(f16_bits(x[i]));'),
    dispatch: (p) => flatDispatch(p.n, uniforms(p, p.n)),
  },
}

/**
 * x [rows, cols] f32 -> packed f16 words (f16.ts's layout; or an f16 tensor of those halves) of [paddedRows, paddedCols] halves, rounded
 * as `roundF16`, zeros outside x: the tensor-core operands, padded to whole tiles (ops.ts#halfProduct)
 * so that matmul_f16 runs its staged version on any shape; a zero K column adds nothing to a product.
 * Two passes over an activation are folded in, each giving the same bits as the separate kernel:
 * `transposed` reads x stored as [cols, rows] (a strided copy upright), `scaled` takes a second input
 * m [1] and multiplies by 2^-rangeExponent(m) first (f16-range.ts's rangeScale, direction -1).
 */
export interface PackF16Params {
  rows: number
  cols: number
  paddedRows: number
  paddedCols: number
  transposed?: boolean
  scaled?: boolean
}

const packUniforms = (p: PackF16Params): UniformFields => {
  const halves = p.paddedRows * p.paddedCols
  return [['count', packedWords(halves)], ['halves', halves], ['rows', p.rows], ['cols', p.cols], ['padded_cols', p.paddedCols]]
}

export const packF16Exact: Kernel<PackF16Params> = {
  name: 'pack_f16_exact',
  cpu: (p, [x, m], [out]) => {
    const factor = p.scaled ? 2 ** -rangeExponent(m[0]) : 1
    const padded = new Float32Array(p.paddedRows * p.paddedCols)
    for (let r = 0; r < p.rows; r++) {
      for (let c = 0; c < p.cols; c++) padded[r * p.paddedCols + c] = x[p.transposed ? c * p.rows + r : r * p.cols + c] * factor
    }
    storePacked(packF16(padded), out)
  },
  gpu: {
    key: (p) => `${p.transposed ? 't' : ''}${p.scaled ? 's' : ''}`,
    code: (p) =>
      flatShader(
        `${bindings(p.scaled ? ['x: array<u32>', 'm: array<f32>'] : ['x: array<u32>'], ['out: array<u32>'], packUniforms(p))}\n${F16_BITS}
${p.scaled ? WGSL_RANGE_EXPONENT : ''}
// The bits of half h of the padded layout: x's value rounded, or 0 outside x.
fn half_at(h: u32) -> u32 {
  let r = h / u.padded_cols;
  let c = h % u.padded_cols;
  if (h >= u.halves || r >= u.rows || c >= u.cols) { return 0u; }
  let bits = x[${p.transposed ? 'c * u.rows + r' : 'r * u.cols + c'}];
  return f16_bits(${p.scaled ? 'bitcast<u32>(ldexp(bitcast<f32>(bits), -range_exponent(m[0])))' : 'bits'});
}`,
        '  out[i] = half_at(2u * i) | (half_at(2u * i + 1u) << 16u);',
      ),
    dispatch: (p) => flatDispatch(packedWords(p.paddedRows * p.paddedCols), packUniforms(p)),
  },
}
