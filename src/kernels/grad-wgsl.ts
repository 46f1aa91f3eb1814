import {ceilDiv, grid1d, packUniforms, type GpuDispatch} from './kernel.js'

/**
 * WGSL boilerplate shared by the training kernels (backward passes, losses, reductions, AdamW):
 * binding declarations in the fixed order of kernel.ts, a typed uniform struct read as `u.name`,
 * and two shader shapes: one thread per item, and one workgroup per row with tree reductions.
 */
export type Field = [name: string, type: 'u32' | 'f32', value: number]
/** A storage binding: a name (array<f32>) or [name, element type]. */
export type Binding = string | [name: string, type: 'f32' | 'i32']

/** Threads in a workgroup, for both shader shapes. */
export const WG = 128

export function declarations(inputs: Binding[], outputs: Binding[], uniforms: Field[]): string {
  const lines: string[] = []
  const declare = (b: Binding, i: number, access: string): void => {
    const [name, type] = typeof b === 'string' ? [b, 'f32'] : b
    lines.push(`@group(0) @binding(${i}) var<storage, ${access}> ${name}: array<${type}>;`)
  }
  inputs.forEach((b, i) => declare(b, i, 'read'))
  outputs.forEach((b, i) => declare(b, inputs.length + i, 'read_write'))
  if (uniforms.length) {
    lines.push(`struct Uniforms { ${uniforms.map(([name, type]) => `${name}: ${type},`).join(' ')} }`)
    lines.push(`@group(0) @binding(${inputs.length + outputs.length}) var<uniform> u: Uniforms;`)
  }
  return lines.join('\n')
}

export function uniformWords(uniforms: Field[]): Uint32Array {
  return packUniforms(uniforms.map(([, type, value]) => (type === 'f32' ? {f: value} : value)))
}

/** The lowest finite f32, the start of a running max (WGSL rejects an infinite constant). */
export const NEG_INF = '-3.4028234e+38'

/** One thread per item: `body` runs for item `i` < `count` (a WGSL expression, usually `u.n`). */
export function flatShader(decls: string, count: string, body: string): string {
  return `${decls}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid.x;
  if (i >= ${count}) { return; }
${body}
}`
}

export function flatDispatch(count: number, uniforms: Field[]): GpuDispatch {
  return {workgroups: grid1d(ceilDiv(count, WG)), uniforms: uniformWords(uniforms)}
}

/**
 * One workgroup per row: `body` runs with `row` < `rows` and thread `t` in 0..WG-1, and may call
 * `reduceSum(t, v)` / `reduceMax(t, v)` (every thread of the workgroup must reach each call).
 *
 * Each call site gets its own slot of workgroup memory, never reused: Mesa's llvmpipe (CI) can
 * re-read a reduction's result from workgroup memory after a later barrier, so a second
 * reduction through the same scratch would hand some threads the wrong total.
 */
export function rowShader(decls: string, rows: string, body: string): string {
  let slots = 0
  const numbered = body.replace(/reduce(Sum|Max)\(/g, (_, op: string) => `reduce${op}(${slots++}u, `)
  return `${decls}
var<workgroup> scratch: array<array<f32, ${WG}>, ${Math.max(slots, 1)}>;

fn reduceSum(k: u32, t: u32, v: f32) -> f32 {
  scratch[k][t] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (t < s) { scratch[k][t] = scratch[k][t] + scratch[k][t + s]; }
    workgroupBarrier();
  }
  return scratch[k][0];
}

fn reduceMax(k: u32, t: u32, v: f32) -> f32 {
  scratch[k][t] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (t < s) { scratch[k][t] = max(scratch[k][t], scratch[k][t + s]); }
    workgroupBarrier();
  }
  return scratch[k][0];
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= ${rows}) { return; }
  let t = lid.x;
${numbered}
}`
}

export function rowDispatch(rows: number, uniforms: Field[]): GpuDispatch {
  return {workgroups: grid1d(rows), uniforms: uniformWords(uniforms)}
}
