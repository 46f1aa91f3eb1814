import {chunkCount, ssdChunkCumsum, ssdChunkState, ssdStatePass, type ChunkShape} from '../../src/kernels/ssd-chunk.js'
import {COLS, ROWS, SLAB, chunkMixFields, MIX_LOAD_V, MIX_STORE, MIX_TILE_COORDS} from '../../src/kernels/ssd-mix-tile.js'
import {chunkMixV2Wgsl} from '../../src/kernels/ssd-mix-v2.js'
import {chunkMixProgram, ssdChunkMix, type ChunkMixParams} from '../../src/kernels/ssd-mix.js'
import type {Kernel} from '../../src/kernels/kernel.js'
import {bindings, versioned} from '../../src/kernels/wgsl.js'
import {randomArray} from '../../bench/cases.js'
import type {BenchCase} from '../../bench/runner.js'
import {kernelCase} from './cases.js'
import type {Checker} from './checks.js'

/** The chunk mix with its WGSL version forced: 1 (below) or 2 (ssd-mix-v2.ts, what `ssdChunkMix` runs). */
export interface ChunkMixVersionParams extends ChunkMixParams {
  version: 1 | 2
}

export const ssdChunkMixVersions: Kernel<ChunkMixVersionParams> = {
  name: ssdChunkMix.name,
  cpu: ssdChunkMix.cpu,
  gpu: versioned<ChunkMixVersionParams>({1: chunkMixProgram(chunkMixV1Wgsl), 2: chunkMixProgram(chunkMixV2Wgsl)}, (p) => p.version),
}

/**
 * WGSL version 1: a workgroup computes 64 rows x 64 output columns of one (b, h, chunk), 4 x 4 a
 * thread, walking the chunk's times in slabs of 16: decayed scores Q·Kᵀ into workgroup memory,
 * then scores · V. Workgroup memory stays under 16 KiB (WebGPU's default limit).
 */
function chunkMixV1Wgsl(p: ChunkMixParams): string {
  const anti = p.anticausal
  // 'ji' states are contiguous along i: let neighbouring threads read neighbouring i.
  const stateCoords = p.stateLayout === 'ij' ? `let ii = e / ${COLS}u; let jj = e % ${COLS}u;` : `let ii = e % ${SLAB}u; let jj = e / ${SLAB}u;`
  const stateIndex = p.stateLayout === 'ij' ? '(state * u.qDim + i0 + ii) * u.vDim + j0 + jj' : '(state * u.vDim + j0 + jj) * u.qDim + i0 + ii'
  return `${bindings(['Qm: array<f32>', 'Km: array<f32>', 'Vm: array<f32>', 'acs: array<f32>', 'S: array<f32>'], ['out: array<f32>'], chunkMixFields(p))}
// Qt: 64 rows x 16 features of Q; Kt: 16 times x 16 features of K; Wt: 16 x 64 of the state or of V;
// Sc: 64 rows x 16 times of decayed scores.
var<workgroup> Qt: array<f32, ${ROWS * SLAB}>;
var<workgroup> Kt: array<f32, ${SLAB * SLAB}>;
var<workgroup> Wt: array<f32, ${SLAB * COLS}>;
var<workgroup> Sc: array<f32, ${ROWS * SLAB}>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
${MIX_TILE_COORDS}
  var Ar = array<f32, 4>();
  for (var a = 0u; a < 4u; a++) { Ar[a] = acs[bh * u.seq + min(r0 + ty + 16u * a, end - 1u)]; }
  var acc = array<f32, 16>();

  // State term: Q_r · S_c over the features, in slabs of 16.
  for (var i0 = 0u; i0 < u.qDim; i0 += ${SLAB}u) {
    for (var e = li; e < ${ROWS * SLAB}u; e += 256u) {
      let rr = e / ${SLAB}u;
      let ii = e % ${SLAB}u;
      var v = 0.0;
      if (r0 + rr < end && i0 + ii < u.qDim) { v = Qm[((b * u.seq + r0 + rr) * u.qHeads + qh) * u.qDim + i0 + ii]; }
      Qt[e] = v;
    }
    for (var e = li; e < ${SLAB * COLS}u; e += 256u) {
      ${stateCoords}
      var w = 0.0;
      if (i0 + ii < u.qDim && j0 + jj < u.vDim) { w = S[${stateIndex}]; }
      Wt[ii * ${COLS}u + jj] = w;
    }
    workgroupBarrier();
    for (var ii = 0u; ii < ${SLAB}u; ii++) {
      var w = array<f32, 4>();
      for (var q = 0u; q < 4u; q++) { w[q] = Wt[ii * ${COLS}u + tx + 16u * q]; }
      for (var a = 0u; a < 4u; a++) {
        let qa = Qt[(ty + 16u * a) * ${SLAB}u + ii];
        for (var q = 0u; q < 4u; q++) { acc[a * 4u + q] += qa * w[q]; }
      }
    }
    workgroupBarrier();
  }
  for (var a = 0u; a < 4u; a++) {
    let scale = exp(${anti ? 'last - Ar[a]' : 'Ar[a]'});
    for (var q = 0u; q < 4u; q++) { acc[a * 4u + q] *= scale; }
  }

  // Within the chunk: slabs of 16 times on the ${anti ? 'anti' : ''}causal side of the row tile.
  let slabs = (end - start + ${SLAB - 1}u) / ${SLAB}u;
  let firstSlab = ${anti ? `(r0 - start) / ${SLAB}u` : '0u'};
  let lastSlab = ${anti ? 'slabs' : `min(slabs, (r0 - start + ${ROWS}u) / ${SLAB}u)`};
  for (var sl = firstSlab; sl < lastSlab; sl++) {
    let s0 = start + sl * ${SLAB}u;
    // Scores of rows ty + 16a against time s0 + tx. The explicit zero value matters: on the H200
    // (Dawn, Vulkan) a declaration without an initializer inside the loop kept the last slab's scores.
    var sc = array<f32, 4>();
    for (var i0 = 0u; i0 < u.qDim; i0 += ${SLAB}u) {
      for (var e = li; e < ${ROWS * SLAB}u; e += 256u) {
        let rr = e / ${SLAB}u;
        let ii = e % ${SLAB}u;
        var v = 0.0;
        if (r0 + rr < end && i0 + ii < u.qDim) { v = Qm[((b * u.seq + r0 + rr) * u.qHeads + qh) * u.qDim + i0 + ii]; }
        Qt[e] = v;
      }
      var kv = 0.0;
      if (s0 + ty < end && i0 + tx < u.qDim) { kv = Km[((b * u.seq + s0 + ty) * u.kHeads + kh) * u.qDim + i0 + tx]; }
      Kt[ty * ${SLAB}u + tx] = kv;
      workgroupBarrier();
      for (var ii = 0u; ii < ${SLAB}u; ii++) {
        let k = Kt[tx * ${SLAB}u + ii];
        for (var a = 0u; a < 4u; a++) { sc[a] += Qt[(ty + 16u * a) * ${SLAB}u + ii] * k; }
      }
      workgroupBarrier();
    }
    let s = s0 + tx;
    let As = acs[bh * u.seq + min(s, end - 1u)];
    for (var a = 0u; a < 4u; a++) {
      let r = r0 + ty + 16u * a;
      let valid = r < end && s < end && ${anti ? 's >= r' : 's <= r'};
      Sc[(ty + 16u * a) * ${SLAB}u + tx] = select(0.0, sc[a] * exp(${anti ? 'As - Ar[a]' : 'Ar[a] - As'}), valid);
    }
${MIX_LOAD_V}
    workgroupBarrier();
    for (var ss = 0u; ss < ${SLAB}u; ss++) {
      var w = array<f32, 4>();
      for (var q = 0u; q < 4u; q++) { w[q] = Wt[ss * ${COLS}u + tx + 16u * q]; }
      for (var a = 0u; a < 4u; a++) {
        let sa = Sc[(ty + 16u * a) * ${SLAB}u + ss];
        for (var q = 0u; q < 4u; q++) { acc[a * 4u + q] += sa * w[q]; }
      }
    }
    workgroupBarrier();
  }

${MIX_STORE}
}`
}

/**
 * The chunked SSD's kernels one by one at the fwd+bwd case's shape (B=8 T=2048 H=32 P=64, one
 * group of N=64, Q=64; random inputs, timing only): where the scan's time goes, and the chunk
 * mix's versions in each of its four uses.
 */
export function ssdVersionCases(): BenchCase[] {
  const [Bt, T, H, P, G, N, Q] = [8, 2048, 32, 64, 1, 64, 64]
  const chunk = {batch: Bt, seq: T, heads: H, chunk: Q}
  const K = T / Q
  const head = {heads: H, dim: P}
  const group = {heads: G, dim: N}
  const [xs, bcs, acsShape, states] = [[Bt, T, H, P], [Bt, T, G, N], [Bt, H, T], [Bt, H, K, P, N]]
  const name = (what: string): string => `ssd ${what} B=${Bt} T=${T} H=${H} P=${P} N=${N} Q=${Q}`
  // Chunk mix: 2T(QN/2 + QP/2 + NP) a head (half the in-chunk pairs are causal).
  const mixFlops = Bt * H * 2 * T * (Q * N / 2 + Q * P / 2 + N * P)
  const mixBytes = 4 * Bt * T * (2 * H * P + 2 * G * N + H) + 4 * Bt * H * K * P * N
  const uses = [
    ['y', group, group, head, false, 'ji'],
    ['dx', group, group, head, true, 'ji'],
    ['dB', head, head, group, true, 'ij'],
    ['dC', head, head, group, false, 'ij'],
  ] as const
  return [
    kernelCase(name('chunk cumsum'), 'v1', ssdChunkCumsum, chunk, [[Bt, T, H]], [Bt * H * T], Bt * T * H, 8 * Bt * T * H),
    kernelCase(name('chunk state'), 'v1', ssdChunkState, {...chunk, u: head, v: group, decay: 'toEnd'}, [xs, bcs, acsShape], [Bt * H * K * P * N], Bt * H * 2 * T * P * N, 4 * (Bt * T * H * P + Bt * H * K * P * N)),
    kernelCase(name('state pass'), 'v1', ssdStatePass, {...chunk, size: P * N, reverse: false, init: false}, [states, acsShape], [Bt * H * K * P * N, Bt * H * P * N], Bt * H * K * P * N * 2, 8 * Bt * H * K * P * N),
    ...uses.flatMap(([use, q, k, v, anticausal, stateLayout]) =>
      ([1, 2] as const).map((version) => {
        const p = {...chunk, q, k, v, anticausal, stateLayout, version}
        const operand = (o: {heads: number; dim: number}): number[] => [Bt, T, o.heads, o.dim]
        return kernelCase(name(`chunk mix (${use})`), `v${version}`, ssdChunkMixVersions, p, [operand(q), operand(k), operand(v), acsShape, states], [Bt * T * H * v.dim], mixFlops, mixBytes)
      }),
    ),
  ]
}

/**
 * `--check`: the chunked SSD scan's kernels, both versions of the mix, at a shape whose last chunk is short, with in-chunk log-decay
 * cumsums that fall as a real scan's do. (The mix kernel's slab loop was wrong on the H200 while
 * right on llvmpipe: chunks of several slabs are what this must cover.)
 */
export async function checkSsdVersions({check, reference}: Checker): Promise<void> {
  const chunk: ChunkShape = {batch: 2, seq: 200, heads: 4, chunk: 64}
  const [B, T, H, P, N, G] = [chunk.batch, chunk.seq, chunk.heads, 16, 16, 1]
  const K = chunkCount(chunk)
  const dA = randomArray(B * T * H, 30).map((x) => -0.05 * (x + 0.5) - 0.01)
  const [acs] = await reference(ssdChunkCumsum, chunk, [dA], [B * H * T])
  const [x, Bm, Cm, S] = [[B * T * H * P, 31], [B * T * G * N, 32], [B * T * G * N, 33], [B * H * K * P * N, 34]].map(([n, seed]) => randomArray(n, seed))
  const head = {heads: H, dim: P}
  const group = {heads: G, dim: N}
  await check('ssd chunk cumsum', ssdChunkCumsum, chunk, [dA], [B * H * T], 1e-5)
  for (const decay of ['toEnd', 'fromStart'] as const) {
    await check(`ssd chunk state ${decay}`, ssdChunkState, {...chunk, u: head, v: group, decay}, [x, Bm, acs], [B * H * K * P * N], 1e-5)
  }
  for (const reverse of [false, true]) {
    await check(`ssd state pass ${reverse ? 'reverse' : 'forward'}`, ssdStatePass, {...chunk, size: P * N, reverse, init: false}, [S, acs], [B * H * K * P * N, B * H * P * N], 1e-5)
  }
  // Both versions of the mix, at chunks of one key tile (64) and of three, the last partial (150).
  for (const Q of [64, 150]) {
    const mixChunk = {...chunk, chunk: Q}
    const [mixAcs] = await reference(ssdChunkCumsum, mixChunk, [dA], [B * H * T])
    const mixS = randomArray(B * H * chunkCount(mixChunk) * P * N, 35)
    for (const version of [1, 2] as const) {
      for (const anticausal of [false, true]) {
        const label = `ssd chunk mix v${version} Q=${Q} ${anticausal ? 'anticausal' : 'causal'}`
        await check(`${label} (y, dx)`, ssdChunkMixVersions, {...mixChunk, q: group, k: group, v: head, anticausal, stateLayout: 'ji', version}, [Cm, Bm, x, mixAcs, mixS], [B * T * H * P], 1e-5)
        await check(`${label} (dB, dC)`, ssdChunkMixVersions, {...mixChunk, q: head, k: head, v: group, anticausal, stateLayout: 'ij', version}, [x, x, Cm, mixAcs, mixS], [B * T * H * N], 1e-5)
      }
    }
  }
}
