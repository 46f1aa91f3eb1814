import {ceilDiv, grid1d, type Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, uniformWords, type UniformFields} from './wgsl.js'

/**
 * One recurrent SSD step (decode), per head h of group g = floor(h / (H / G)):
 *   next = exp(dA) · state + x ⊗ B,   y = next · C
 *   x: [B, H, P], dA: [B, H], B, C: [B, G, N], state: [B, H, P, N] -> y: [B, H, P], next: [B, H, P, N]
 * The step reads and writes the whole state, so it is bound by memory: on the GPU one thread per state
 * value (consecutive threads, consecutive values, so a subgroup's loads and stores coalesce), a row's
 * N products with C summed in n order by its first thread from workgroup memory. A thread per (b, h, p)
 * row looping over n, as before, strode N values between neighbours: on an H100 at batch 510, 32 heads,
 * P = N = 64 it moved the state at about 110 GB/s, 57 % of the 2 % hybrid's decode step
 * (experiments/decode/2026-12-07-h100-f16cache/profile.md). A state wider than a workgroup keeps that
 * row-per-thread form.
 */
export interface SsdStepParams {
  batch: number
  heads: number
  groups: number
  headDim: number
  stateDim: number
}

const fields = (p: SsdStepParams): UniformFields => [
  ['count', p.batch * p.heads * p.headDim],
  ['heads', p.heads],
  ['groups', p.groups],
  ['headDim', p.headDim],
  ['stateDim', p.stateDim],
]

export const ssdStep: Kernel<SsdStepParams> = {
  name: 'ssd_step',
  cpu: (p, [x, dA, Bm, Cm, state], [y, next]) => {
    const {batch, heads: H, groups: G, headDim: P, stateDim: N} = p
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < H; h++) {
        const decay = Math.exp(dA[b * H + h])
        const bc = (b * G + Math.floor(h / (H / G))) * N
        for (let i = 0; i < P; i++) {
          const row = ((b * H + h) * P + i) * N
          const xi = x[(b * H + h) * P + i]
          let acc = 0
          for (let n = 0; n < N; n++) {
            const v = decay * state[row + n] + xi * Bm[bc + n]
            next[row + n] = v
            acc += v * Cm[bc + n]
          }
          y[(b * H + h) * P + i] = acc
        }
      }
    }
  },
  gpu: {
    key: (p) => (p.stateDim <= STEP_WG ? `values of ${rowsPerGroup(p)} rows` : 'rows'),
    code: (p) =>
      p.stateDim <= STEP_WG ? valuesShader(p) : flatShader(
        bindings(['x: array<f32>', 'dA: array<f32>', 'Bm: array<f32>', 'Cm: array<f32>', 'state: array<f32>'], ['y: array<f32>', 'next: array<f32>'], fields(p)),
        `  let bh = i / u.headDim;
  let b = bh / u.heads;
  let h = bh % u.heads;
  let decay = exp(dA[bh]);
  let bc = (b * u.groups + h / (u.heads / u.groups)) * u.stateDim;
  let row = i * u.stateDim;
  let xi = x[i];
  var acc = 0.0;
  for (var n = 0u; n < u.stateDim; n++) {
    let v = decay * state[row + n] + xi * Bm[bc + n];
    next[row + n] = v;
    acc += v * Cm[bc + n];
  }
  y[i] = acc;`,
      ),
    dispatch: (p) =>
      p.stateDim <= STEP_WG
        ? {workgroups: grid1d(ceilDiv(p.batch * p.heads * p.headDim, rowsPerGroup(p))), uniforms: uniformWords(fields(p))}
        : flatDispatch(p.batch * p.heads * p.headDim, fields(p)),
  },
}

const STEP_WG = 256
const rowsPerGroup = (p: SsdStepParams): number => Math.floor(STEP_WG / p.stateDim)

/** Thread t of a workgroup: value n = t % N of row (workgroup · R + t / N), R = floor(256 / N) rows a workgroup. */
function valuesShader(p: SsdStepParams): string {
  const rows = rowsPerGroup(p)
  return `${bindings(['x: array<f32>', 'dA: array<f32>', 'Bm: array<f32>', 'Cm: array<f32>', 'state: array<f32>'], ['y: array<f32>', 'next: array<f32>'], fields(p))}
var<workgroup> products: array<f32, ${STEP_WG}>;

@compute @workgroup_size(${STEP_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = lid.x;
  let local = t / u.stateDim;
  let n = t % u.stateDim;
  let i = (wid.y * nwg.x + wid.x) * ${rows}u + local;
  let live = local < ${rows}u && i < u.count;
  var product = 0.0;
  if (live) {
    let bh = i / u.headDim;
    let b = bh / u.heads;
    let h = bh % u.heads;
    let bc = (b * u.groups + h / (u.heads / u.groups)) * u.stateDim + n;
    let at = i * u.stateDim + n;
    let v = exp(dA[bh]) * state[at] + x[i] * Bm[bc];
    next[at] = v;
    product = v * Cm[bc];
  }
  products[t] = product;
  workgroupBarrier();
  if (live && n == 0u) {
    var acc = 0.0;
    for (var k = 0u; k < u.stateDim; k++) { acc += products[t + k]; }
    y[i] = acc;
  }
}`
}
