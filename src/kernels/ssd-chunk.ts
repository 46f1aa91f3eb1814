import type {Kernel} from './kernel.js'
import {bindings, flatDispatch, flatShader, uniformWords, type UniformFields} from './wgsl.js'

/**
 * Chunk-level pieces of the chunked SSD scan (Mamba-2, ssd_minimal_discrete) and of its backward.
 * Letters: B batch, T time, H heads, P head dim, G groups, N state, Q chunk length,
 * K = ceil(T / Q) chunks; chunk c covers times [cQ, min(cQ + Q, T)). The last chunk may be short.
 * Acs [B, H, T] is the log-decay summed from the start of each chunk, inclusive; its value at a
 * chunk's last time is that chunk's total decay.
 */
export interface ChunkShape {
  batch: number
  seq: number
  heads: number
  chunk: number
}

export const chunkCount = (p: ChunkShape): number => Math.ceil(p.seq / p.chunk)

/** dA [B, T, H] -> Acs [B, H, T], cumsum restarted at each chunk. One GPU thread per (b, h, chunk). */
export const ssdChunkCumsum: Kernel<ChunkShape> = {
  name: 'ssd_chunk_cumsum',
  cpu: (p, [dA], [acs]) => {
    const {batch, seq, heads: H, chunk: Q} = p
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < H; h++) {
        let acc = 0
        for (let t = 0; t < seq; t++) {
          if (t % Q === 0) acc = 0
          acc += dA[(b * seq + t) * H + h]
          acs[(b * H + h) * seq + t] = acc
        }
      }
    }
  },
  gpu: {
    key: () => '',
    code: (p) =>
      flatShader(
        bindings(['dA: array<f32>'], ['acs: array<f32>'], chunkCumsumFields(p)),
        `  let c = i % u.chunks;
  let bh = i / u.chunks;
  let b = bh / u.heads;
  let h = bh % u.heads;
  let start = c * u.chunk;
  let end = min(start + u.chunk, u.seq);
  var acc = 0.0;
  for (var t = start; t < end; t++) {
    acc += dA[(b * u.seq + t) * u.heads + h];
    acs[bh * u.seq + t] = acc;
  }`,
      ),
    dispatch: (p) => flatDispatch(p.batch * p.heads * chunkCount(p), chunkCumsumFields(p)),
  },
}

const chunkCumsumFields = (p: ChunkShape): UniformFields => [
  ['count', p.batch * p.heads * chunkCount(p)],
  ['chunks', chunkCount(p)],
  ['seq', p.seq],
  ['heads', p.heads],
  ['chunk', p.chunk],
]

/**
 * A [B, T, heads, dim] tensor read by SSD head h: x-like operands have one slice per head
 * (heads = H), B/C-like ones one per group (heads = G; head h reads group floor(h / (H / G))).
 */
export interface Operand {
  heads: number
  dim: number
}

/**
 * Each chunk's outer-product sum, weighted by decay:
 *   S[b, h, c, i, j] = Σ_{t in chunk c} w_t · U[b, t, h, i] · V[b, t, h, j]     -> [B, H, K, U.dim, V.dim]
 *   decay 'toEnd':     w_t = exp(Acs_last - Acs_t)   forward: U = x, V = B, S = the chunk's own final state
 *   decay 'fromStart': w_t = exp(Acs_t)             backward: U = dy, V = C, S = the chunk's push on the state before it
 * WGSL: a workgroup computes a 64 x 64 tile of one chunk's S, 4 x 4 values a thread, streaming the
 * chunk through workgroup memory 16 times at a time.
 */
export interface ChunkStateParams extends ChunkShape {
  u: Operand
  v: Operand
  decay: 'toEnd' | 'fromStart'
}

const TILE = 64
const STEP = 16

export const ssdChunkState: Kernel<ChunkStateParams> = {
  name: 'ssd_chunk_state',
  cpu: (p, [U, V, acs], [S]) => {
    const {batch, seq: T, heads: H, chunk: Q, u, v} = p
    const K = chunkCount(p)
    const w = new Float64Array(Q)
    const acc = new Float64Array(u.dim * v.dim)
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < H; h++) {
        const uh = Math.floor(h / (H / u.heads))
        const vh = Math.floor(h / (H / v.heads))
        for (let c = 0; c < K; c++) {
          const start = c * Q
          const end = Math.min(start + Q, T)
          const last = acs[(b * H + h) * T + end - 1]
          for (let t = start; t < end; t++) {
            const a = acs[(b * H + h) * T + t]
            w[t - start] = Math.exp(p.decay === 'toEnd' ? last - a : a)
          }
          // Each S[i, j] sums over t in order; t outermost keeps the reads of U and V contiguous.
          acc.fill(0)
          for (let t = start; t < end; t++) {
            const ut = ((b * T + t) * u.heads + uh) * u.dim
            const vt = ((b * T + t) * v.heads + vh) * v.dim
            for (let i = 0; i < u.dim; i++) {
              const wu = w[t - start] * U[ut + i]
              for (let j = 0; j < v.dim; j++) acc[i * v.dim + j] += wu * V[vt + j]
            }
          }
          S.set(acc, ((b * H + h) * K + c) * u.dim * v.dim)
        }
      }
    }
  },
  gpu: {
    key: (p) => p.decay,
    code: (p) => `${bindings(['U: array<f32>', 'V: array<f32>', 'acs: array<f32>'], ['S: array<f32>'], chunkStateFields(p))}
var<workgroup> Us: array<f32, ${STEP * TILE}>;
var<workgroup> Vs: array<f32, ${STEP * TILE}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let jTiles = (u.vDim + ${TILE - 1}u) / ${TILE}u;
  let i0 = (wid.x / jTiles) * ${TILE}u;
  let j0 = (wid.x % jTiles) * ${TILE}u;
  let c = wid.y;
  let bh = wid.z;
  let b = bh / u.heads;
  let h = bh % u.heads;
  let uh = h / (u.heads / u.uHeads);
  let vh = h / (u.heads / u.vHeads);
  let start = c * u.chunk;
  let end = min(start + u.chunk, u.seq);
  let last = acs[bh * u.seq + end - 1u];
  let ty = lid / 16u;
  let tx = lid % 16u;
  var acc = array<f32, 16>();
  for (var t0 = start; t0 < end; t0 += ${STEP}u) {
    for (var e = lid; e < ${STEP * TILE}u; e += 256u) {
      let t = t0 + e / ${TILE}u;
      let col = e % ${TILE}u;
      var uv = 0.0;
      var vv = 0.0;
      if (t < end) {
        let a = acs[bh * u.seq + t];
        let w = exp(${p.decay === 'toEnd' ? 'last - a' : 'a'});
        if (i0 + col < u.uDim) { uv = w * U[((b * u.seq + t) * u.uHeads + uh) * u.uDim + i0 + col]; }
        if (j0 + col < u.vDim) { vv = V[((b * u.seq + t) * u.vHeads + vh) * u.vDim + j0 + col]; }
      }
      Us[e] = uv;
      Vs[e] = vv;
    }
    workgroupBarrier();
    for (var s = 0u; s < ${STEP}u; s++) {
      for (var a = 0u; a < 4u; a++) {
        let ui = Us[s * ${TILE}u + ty + 16u * a];
        for (var q = 0u; q < 4u; q++) { acc[a * 4u + q] += ui * Vs[s * ${TILE}u + tx + 16u * q]; }
      }
    }
    workgroupBarrier();
  }
  let out = (bh * u.chunks + c) * u.uDim * u.vDim;
  for (var a = 0u; a < 4u; a++) {
    let i = i0 + ty + 16u * a;
    for (var q = 0u; q < 4u; q++) {
      let j = j0 + tx + 16u * q;
      if (i < u.uDim && j < u.vDim) { S[out + i * u.vDim + j] = acc[a * 4u + q]; }
    }
  }
}`,
    dispatch: (p) => ({
      workgroups: [Math.ceil(p.u.dim / TILE) * Math.ceil(p.v.dim / TILE), chunkCount(p), p.batch * p.heads],
      uniforms: uniformWords(chunkStateFields(p)),
    }),
  },
}

const chunkStateFields = (p: ChunkStateParams): UniformFields => [
  ['chunks', chunkCount(p)],
  ['seq', p.seq],
  ['heads', p.heads],
  ['chunk', p.chunk],
  ['uHeads', p.u.heads],
  ['uDim', p.u.dim],
  ['vHeads', p.v.heads],
  ['vDim', p.v.dim],
]

/**
 * The inter-chunk recurrence over per-chunk states S [B, H, K, size] (size = P·N):
 *   forward:  run = init (or 0);  for c = 0..K-1:  out[c] = run;  run = exp(total_c)·run + S[c]
 *   reverse:  the same from c = K-1 down to 0 (the adjoint: S = dS pushes, init = d final state)
 *   outputs: out [B, H, K, size] (forward: the state entering each chunk; reverse: the gradient
 *   of the state leaving each chunk) and after [B, H, size], run after the loop (forward: the final
 *   state; reverse: the gradient of the initial state).
 * One GPU thread per state element.
 */
export interface StatePassParams extends ChunkShape {
  size: number
  reverse: boolean
  init: boolean
}

export const ssdStatePass: Kernel<StatePassParams> = {
  name: 'ssd_state_pass',
  cpu: (p, [S, acs, init], [out, after]) => {
    const {batch, seq: T, heads: H, chunk: Q, size} = p
    const K = chunkCount(p)
    for (let bh = 0; bh < batch * H; bh++) {
      for (let e = 0; e < size; e++) {
        let run = p.init ? init[bh * size + e] : 0
        for (let step = 0; step < K; step++) {
          const c = p.reverse ? K - 1 - step : step
          const at = (bh * K + c) * size + e
          out[at] = run
          run = Math.exp(acs[bh * T + Math.min(c * Q + Q, T) - 1]) * run + S[at]
        }
        after[bh * size + e] = run
      }
    }
  },
  gpu: {
    key: (p) => `${p.reverse ? 'rev' : 'fwd'}${p.init ? ',init' : ''}`,
    code: (p) =>
      flatShader(
        bindings(['S: array<f32>', 'acs: array<f32>', ...(p.init ? ['init: array<f32>'] : [])], ['out: array<f32>', 'after: array<f32>'], statePassFields(p)),
        `  let bh = i / u.size;
  let e = i % u.size;
  var run = ${p.init ? 'init[i]' : '0.0'};
  for (var step = 0u; step < u.chunks; step++) {
    let c = ${p.reverse ? 'u.chunks - 1u - step' : 'step'};
    let at = (bh * u.chunks + c) * u.size + e;
    out[at] = run;
    run = exp(acs[bh * u.seq + min(c * u.chunk + u.chunk, u.seq) - 1u]) * run + S[at];
  }
  after[i] = run;`,
      ),
    dispatch: (p) => flatDispatch(p.batch * p.heads * p.size, statePassFields(p)),
  },
}

const statePassFields = (p: StatePassParams): UniformFields => [
  ['count', p.batch * p.heads * p.size],
  ['chunks', chunkCount(p)],
  ['seq', p.seq],
  ['chunk', p.chunk],
  ['size', p.size],
]
