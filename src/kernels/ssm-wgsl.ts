import {ceilDiv, grid1d, packUniforms, type GpuDispatch} from './kernel.js'

/**
 * WGSL boilerplate shared by the state-space kernels (conv1d, cumsum, SSD): binding declarations
 * in the fixed order of kernel.ts, and a uniform struct of u32 fields whose names the WGSL reads
 * as `u.name` and whose values `dispatch` packs in the same order.
 */
export type UniformFields = [name: string, value: number][]

/** Declarations for `inputs` (read) then `outputs` (read_write), all array<f32>, then `u`. */
export function bindings(inputs: string[], outputs: string[], uniforms: UniformFields): string {
  const lines: string[] = []
  inputs.forEach((name, i) => lines.push(`@group(0) @binding(${i}) var<storage, read> ${name}: array<f32>;`))
  outputs.forEach((name, i) => lines.push(`@group(0) @binding(${inputs.length + i}) var<storage, read_write> ${name}: array<f32>;`))
  if (uniforms.length) {
    lines.push(`struct Uniforms { ${uniforms.map(([name]) => `${name}: u32,`).join(' ')} }`)
    lines.push(`@group(0) @binding(${inputs.length + outputs.length}) var<uniform> u: Uniforms;`)
  }
  return lines.join('\n')
}

export function uniformWords(uniforms: UniformFields): Uint32Array {
  return packUniforms(uniforms.map(([, value]) => value))
}

/**
 * -inf for kernels that write it. A constant expression may not evaluate to an infinity in WGSL,
 * so the bits arrive as a uniform: add `NEG_INF_FIELD` to the kernel's fields.
 */
export const NEG_INF_FIELD: [string, number] = ['negInf', 0xff800000]
export const NEG_INF = 'bitcast<f32>(u.negInf)'

/** Threads a workgroup in one-thread-per-item kernels. */
export const FLAT_WG = 256

/**
 * A one-thread-per-item shader: `body` runs for item `i` < `u.count` (so `count` must be one of
 * the uniform fields), with items spread over x and y by `flatDispatch`.
 */
export function flatShader(declarations: string, body: string): string {
  return `${declarations}
@compute @workgroup_size(${FLAT_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * ${FLAT_WG}u + lid.x;
  if (i >= u.count) { return; }
${body}
}`
}

export function flatDispatch(count: number, uniforms: UniformFields): GpuDispatch {
  return {workgroups: grid1d(ceilDiv(count, FLAT_WG)), uniforms: uniformWords(uniforms)}
}
