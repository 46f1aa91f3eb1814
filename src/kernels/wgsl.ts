import {ceilDiv, grid1d, packUniforms, type GpuDispatch, type GpuProgram} from './kernel.js'

/**
 * Builders for the WGSL side of kernels: a template tag that refuses missing constants, the
 * binding declarations of the convention in kernel.ts, uniform structs declared and packed from
 * one list so the two can never disagree on order, and two shader shapes with their dispatches:
 * one thread per item (`flatShader`), and one workgroup per row with tree reductions (`rowShader`).
 */

/** Tagged template for WGSL source: every interpolated constant must be a string, a finite number or a boolean. */
export function wgsl(strings: TemplateStringsArray, ...values: (string | number | boolean)[]): string {
  let out = strings[0]
  values.forEach((v, i) => {
    if (v === undefined || v === null || (typeof v === 'number' && !Number.isFinite(v))) {
      throw new Error(`wgsl: interpolated constant ${i} is ${v}`)
    }
    out += String(v) + strings[i + 1]
  })
  return out
}

/** Uniform fields in packing order: a plain number is a u32, `{f: x}` an f32. The WGSL reads `u.name`. */
export type UniformFields = [name: string, value: number | {f: number}][]

/**
 * Declarations for inputs (read-only storage), outputs (read_write storage) and the uniform
 * struct `u`, bound in that order from 0. inputs/outputs: 'name: array<f32>' entries.
 */
export function bindings(inputs: string[], outputs: string[], uniforms: UniformFields = []): string {
  const lines: string[] = []
  let binding = 0
  for (const decl of inputs) lines.push(`@group(0) @binding(${binding++}) var<storage, read> ${decl};`)
  for (const decl of outputs) lines.push(`@group(0) @binding(${binding++}) var<storage, read_write> ${decl};`)
  if (uniforms.length) {
    const fields = uniforms.map(([name, value]) => `${name}: ${typeof value === 'number' ? 'u32' : 'f32'},`)
    lines.push(`struct Uniforms { ${fields.join(' ')} }`)
    lines.push(`@group(0) @binding(${binding}) var<uniform> u: Uniforms;`)
  }
  return lines.join('\n')
}

export function uniformWords(uniforms: UniformFields): Uint32Array {
  return packUniforms(uniforms.map(([, value]) => value))
}

/** Threads a workgroup in one-thread-per-item kernels, unless a kernel asks for another size. */
export const FLAT_WG = 256
/** Threads a workgroup in row shaders; the training kernels' flat shaders use it too. */
export const ROW_WG = 128

/** The lowest finite f32, the start of a running max (WGSL rejects an infinite constant). */
export const NEG_INF = '-3.4028234e+38'

export interface FlatShape {
  /** WGSL expression for the number of items; by default the uniform field `count`. */
  count?: string
  /** Threads a workgroup; pass the same size to `flatDispatch`. */
  size?: number
}

/**
 * A one-thread-per-item shader: `body` runs for item `i` < `count`, with items spread over x and
 * y by `flatDispatch`. `declarations` holds bindings and helpers.
 */
export function flatShader(declarations: string, body: string, {count = 'u.count', size = FLAT_WG}: FlatShape = {}): string {
  return wgsl`${declarations}
@compute @workgroup_size(${size})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.y * nwg.x + wid.x) * ${size}u + lid.x;
  if (i >= ${count}) { return; }
${body}
}`
}

export function flatDispatch(count: number, uniforms: UniformFields, size = FLAT_WG): GpuDispatch {
  return {workgroups: grid1d(ceilDiv(count, size)), uniforms: uniformWords(uniforms)}
}

/**
 * A WGSL function `name` returning `value` folded with `combine` over a workgroup's `size`
 * threads (a power of two), through the workgroup memory that `cell(index)` names. `params`
 * declares `value: f32` and `lid: u32` (the calling thread) among others. Every thread of the
 * workgroup must call it, from uniform control flow.
 */
function treeReduction(name: string, params: string, cell: (index: string) => string, size: number, combine: (a: string, b: string) => string): string {
  return wgsl`fn ${name}(${params}) -> f32 {
  ${cell('lid')} = value;
  workgroupBarrier();
  for (var stride = ${size / 2}u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { ${cell('lid')} = ${combine(cell('lid'), cell('lid + stride'))}; }
    workgroupBarrier();
  }
  return ${cell('0')};
}`
}

/**
 * A function `fn(value, lid) -> f32`: the sum of `value` over the workgroup's `size` threads (a
 * power of two), through its own workgroup array. Call it only once: Mesa's llvmpipe (CI) can
 * re-read workgroup memory after a later barrier, so a reduction whose scratch is overwritten by
 * the next one can hand some threads the wrong total. Declare one such function per reduction
 * instead (`rowShader` does so for each of its call sites).
 */
export function workgroupSum(fn: string, size: number): string {
  return `var<workgroup> ${fn}_scratch: array<f32, ${size}>;
${treeReduction(fn, 'value: f32, lid: u32', (index) => `${fn}_scratch[${index}]`, size, (a, b) => `${a} + ${b}`)}`
}

/**
 * One workgroup of ROW_WG threads per row: `body` runs with `row` < `rows` (a WGSL expression)
 * and thread `t`, and may call `reduceSum(t, v)` / `reduceMax(t, v)` (every thread of the
 * workgroup must reach each call). Each call site gets its own slot of workgroup memory, never
 * reused, for the llvmpipe reason given at `workgroupSum`.
 */
export function rowShader(declarations: string, body: string, rows = 'u.rows'): string {
  let slots = 0
  const numbered = body.replace(/reduce(Sum|Max)\(/g, (_, op: string) => `reduce${op}(${slots++}u, `)
  const cell = (index: string): string => `scratch[k][${index}]`
  const params = 'k: u32, lid: u32, value: f32'
  return wgsl`${declarations}
var<workgroup> scratch: array<array<f32, ${ROW_WG}>, ${Math.max(slots, 1)}>;

${treeReduction('reduceSum', params, cell, ROW_WG, (a, b) => `${a} + ${b}`)}

${treeReduction('reduceMax', params, cell, ROW_WG, (a, b) => `max(${a}, ${b})`)}

@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= ${rows}) { return; }
  let t = lid.x;
${numbered}
}`
}

export function rowDispatch(rows: number, uniforms: UniformFields): GpuDispatch {
  return {workgroups: grid1d(rows), uniforms: uniformWords(uniforms)}
}

/**
 * One GPU program over numbered versions of a kernel: `pick` chooses the version for each call
 * (a `version` parameter when a benchmark forces one, else the fastest that applies), and the
 * version number joins the pipeline key.
 */
export function versioned<P>(versions: Record<number, GpuProgram<P>>, pick: (p: P) => number): GpuProgram<P> {
  const of = (p: P): [number, GpuProgram<P>] => {
    const v = pick(p)
    const program = versions[v]
    if (!program) throw new Error(`no kernel version ${v} (have ${Object.keys(versions).join(', ')})`)
    return [v, program]
  }
  return {
    key: (p) => {
      const [v, program] = of(p)
      return `v${v}:${program.key(p)}`
    },
    code: (p) => of(p)[1].code(p),
    dispatch: (p) => of(p)[1].dispatch(p),
  }
}

/** `body(i)` for i in 0..n-1, joined by newlines: straight-line WGSL with constant indices (kept in registers). */
export const unrolled = (n: number, body: (i: number) => string): string => Array.from({length: n}, (_, i) => body(i)).join('\n')
