import {conv1d as conv1dKernel, conv1dInputGrad, conv1dWeightGrad} from '../kernels/conv1d.js'
import {conv1dCarry as conv1dCarryKernel} from '../kernels/conv1d-carry.js'
import {cumsum as cumsumKernel, segsum as segsumKernel, segsumGradDiff} from '../kernels/cumsum.js'
import {chunkCount, ssdChunkCumsum, ssdChunkState, ssdStatePass, type ChunkShape, type Operand} from '../kernels/ssd-chunk.js'
import {ssdDecayGradTerms, ssdGroupSum} from '../kernels/ssd-grad.js'
import {ssdMatrix as ssdMatrixKernel, ssdMatrixGrad} from '../kernels/ssd-matrix.js'
import {ssdChunkMix, type ChunkMixParams} from '../kernels/ssd-mix.js'
import {ssdStep as ssdStepKernel} from '../kernels/ssd-step.js'
import {ShapeError} from '../errors.js'
import {needsGrad, record} from './autograd.js'
import {empty, numelOf, scope, zeros, type Tensor} from './tensor.js'

/**
 * Tensor-level state-space ops: causal depthwise conv1d, cumsum / segsum, and the SSD of
 * Mamba-2 in its three forms (chunked scan, recurrent step, materialised matrix), each with its
 * backward recorded on the autograd tape.
 * Letters: B batch, T time, C channels, W conv width, H heads, P head dim, G groups (B and C
 * shared by H/G heads), N state size, Q chunk length.
 */

function check(what: string, ok: boolean, detail: () => string): void {
  if (!ok) throw new ShapeError(`${what}: ${detail()}`)
}

function sameBackend(...ts: Tensor[]): void {
  for (const t of ts) {
    t.assertLive()
    if (t.backend !== ts[0].backend) throw new Error('tensors live on different backends')
  }
}

const same = (shape: readonly number[], expected: readonly number[]): boolean =>
  shape.length === expected.length && shape.every((d, i) => d === expected[i])

// ---- conv1d ------------------------------------------------------------------------------

/** Causal depthwise conv1d: x [B, T, C], weight [C, W], bias [C] -> [B, T, C] (left zero pad W-1). */
export function conv1d(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const extra = bias ? [bias] : []
  sameBackend(x, weight, ...extra)
  const [batch, seq, channels] = x.shape
  const width = weight.shape[1]
  check('conv1d', x.rank === 3 && weight.rank === 2 && weight.shape[0] === channels && (!bias || bias.numel === channels), () => `x [${x.shape}], weight [${weight.shape}]${bias ? `, bias [${bias.shape}]` : ''}`)
  const p = {batch, seq, channels, width, bias: Boolean(bias)}
  const y = empty(x.backend, x.shape)
  x.backend.run(conv1dKernel, p, [x.storage, weight.storage, ...extra.map((t) => t.storage)], [y.storage])
  const inputs = [x, weight, ...extra]
  if (needsGrad(inputs)) {
    record(inputs, [y], ([dy], {inputs: [xs, ws], needs}) => {
      if (!dy) return []
      let dx: Tensor | undefined
      if (needs[0]) {
        dx = empty(x.backend, x.shape)
        x.backend.run(conv1dInputGrad, p, [dy.storage, ws.storage], [dx.storage])
      }
      if (!needs[1] && !needs[2]) return [dx]
      const dw = empty(x.backend, ws.shape)
      const db = bias ? empty(x.backend, [channels]) : undefined
      x.backend.run(conv1dWeightGrad, p, [dy.storage, xs.storage], db ? [dw.storage, db.storage] : [dw.storage])
      return [dx, dw, db]
    })
  }
  return y
}

/**
 * conv1d continuing a sequence, as decoding runs it: x [B, T, C] after the inputs `window`
 * [B, W-1, C] -> y [B, T, C] and the window after x, [B, W-1, C], in one kernel. No gradient: a
 * caller that trains takes the composite path (concat, conv1d, narrow), which has one.
 */
export function conv1dCarry(x: Tensor, window: Tensor, weight: Tensor, bias?: Tensor): {y: Tensor; window: Tensor} {
  const extra = bias ? [bias] : []
  sameBackend(x, window, weight, ...extra)
  const [batch, seq, channels] = x.shape
  const width = weight.shape[1]
  check('conv1dCarry', x.rank === 3 && weight.rank === 2 && width >= 2 && weight.shape[0] === channels && (!bias || bias.numel === channels) && same(window.shape, [batch, width - 1, channels]),
    () => `x [${x.shape}], window [${window.shape}], weight [${weight.shape}]${bias ? `, bias [${bias.shape}]` : ''}`)
  if (needsGrad([x, window, weight, ...extra])) throw new Error('conv1dCarry has no backward: train through concat, conv1d and narrow')
  const y = empty(x.backend, x.shape)
  const next = empty(x.backend, window.shape)
  x.backend.run(conv1dCarryKernel, {batch, seq, channels, width, bias: Boolean(bias)}, [x.storage, window.storage, weight.storage, ...extra.map((t) => t.storage)], [y.storage, next.storage])
  return {y, window: next}
}

// ---- cumsum and segsum -------------------------------------------------------------------

function axisView(x: Tensor, dim: number): {outer: number; len: number; inner: number; axis: number} {
  const axis = dim < 0 ? x.rank + dim : dim
  check('cumsum', axis >= 0 && axis < x.rank, () => `dim ${dim} of a rank-${x.rank} tensor`)
  return {outer: numelOf(x.shape.slice(0, axis)), len: x.shape[axis], inner: numelOf(x.shape.slice(axis + 1)), axis}
}

export interface CumsumOptions {
  /** Sum from the end: y[t] = Σ_{s>=t} x[s]. */
  reverse?: boolean
  /** Leave x[t] itself out of y[t]. */
  exclusive?: boolean
}

/** Cumulative sum along `dim`; same shape as x. */
export function cumsum(x: Tensor, dim: number, opts: CumsumOptions = {}): Tensor {
  sameBackend(x)
  const {outer, len, inner} = axisView(x, dim)
  const reverse = Boolean(opts.reverse)
  const exclusive = Boolean(opts.exclusive)
  const y = empty(x.backend, x.shape)
  x.backend.run(cumsumKernel, {outer, len, inner, reverse, exclusive}, [x.storage], [y.storage])
  if (needsGrad([x])) {
    record([x], [y], ([dy]) => [dy ? cumsum(dy, dim, {reverse: !reverse, exclusive}) : undefined])
  }
  return y
}

/**
 * Segment sums along `dim` (time): a [..pre, T, ..post] -> [..pre, ..post, T, T] with
 * out[.., t, s] = Σ_{s<k<=t} a[k] for s <= t and -inf above the diagonal (ssd_minimal's segsum).
 * For dA [B, T, H] and dim 1 that is [B, H, T, T].
 */
export function segsum(a: Tensor, dim: number): Tensor {
  sameBackend(a)
  const {outer, len, inner, axis} = axisView(a, dim)
  const p = {outer, len, inner}
  const out = empty(a.backend, [...a.shape.slice(0, axis), ...a.shape.slice(axis + 1), len, len])
  a.backend.run(segsumKernel, p, [a.storage], [out.storage])
  if (needsGrad([a])) {
    record([a], [out], ([dout]) => {
      if (!dout) return []
      return scope(() => {
        const diff = empty(a.backend, a.shape)
        a.backend.run(segsumGradDiff, p, [dout.storage], [diff.storage])
        const da = empty(a.backend, a.shape)
        a.backend.run(cumsumKernel, {...p, reverse: false, exclusive: true}, [diff.storage], [da.storage])
        return [da]
      })
    })
  }
  return out
}

// ---- SSD ---------------------------------------------------------------------------------

interface SsdShape {
  batch: number
  seq: number
  heads: number
  headDim: number
  groups: number
  stateDim: number
}

/** Validate x [B, T, H, P], dA [B, T, H], B and C [B, T, G, N] with G dividing H. */
function ssdShape(what: string, x: Tensor, dA: Tensor, B: Tensor, C: Tensor): SsdShape {
  sameBackend(x, dA, B, C)
  const [batch, seq, heads, headDim] = x.shape
  const [, , groups, stateDim] = B.shape
  const ok =
    x.rank === 4 &&
    B.rank === 4 &&
    same(dA.shape, [batch, seq, heads]) &&
    same(B.shape, [batch, seq, groups, stateDim]) &&
    same(C.shape, B.shape) &&
    groups > 0 &&
    heads % groups === 0
  check(what, ok, () => `x [${x.shape}] (B, T, H, P), dA [${dA.shape}] (B, T, H), B [${B.shape}] and C [${C.shape}] (B, T, G, N) with G dividing H`)
  return {batch, seq, heads, headDim, groups, stateDim}
}

export interface SsdChunkedOptions {
  /** Chunk length Q (Mamba-2 uses 256, Phi-Mamba 128); T need not be a multiple of it. */
  chunk: number
  /** State before the first token [B, H, P, N]; zeros when absent. */
  initialState?: Tensor
}

/**
 * The SSD of Mamba-2 with per-head scalar decay, by chunks (ssd_minimal_discrete's four steps):
 *   h_t = exp(dA_t)·h_{t-1} + x_t ⊗ B_t,  y_t = h_t · C_t      per head h, group floor(h / (H / G))
 *   x [B, T, H, P], dA [B, T, H] (log-decays: A·Δ for Mamba-2, -softplus(A_log) for discrete
 *   Mamba-2; the caller builds them and scales x by Δ), B, C [B, T, G, N]
 *   -> y [B, T, H, P], finalState [B, H, P, N]
 * The backward runs the same kernels in reverse (the adjoint scan) from the forward's chunk states;
 * nothing T x T is materialised.
 */
export function ssdChunked(x: Tensor, dA: Tensor, B: Tensor, C: Tensor, opts: SsdChunkedOptions): {y: Tensor; finalState: Tensor} {
  const s = ssdShape('ssdChunked', x, dA, B, C)
  const init = opts.initialState
  if (init) {
    sameBackend(x, init)
    check('ssdChunked', same(init.shape, [s.batch, s.heads, s.headDim, s.stateDim]), () => `initial state [${init.shape}], expected [${s.batch}, ${s.heads}, ${s.headDim}, ${s.stateDim}]`)
  }
  check('ssdChunked', Number.isInteger(opts.chunk) && opts.chunk > 0, () => `chunk length ${opts.chunk}`)
  const chunk = {batch: s.batch, seq: s.seq, heads: s.heads, chunk: opts.chunk}
  const y = empty(x.backend, x.shape)
  const inputs = init ? [x, dA, B, C, init] : [x, dA, B, C]
  const {acs, entering, final} = scope(() => chunkedStates(s, chunk, x, dA, B, init))
  mix(chunk, {q: groupOp(s), k: groupOp(s), v: headOp(s), anticausal: false, stateLayout: 'ji'}, [C, B, x, acs, entering], y)
  if (needsGrad(inputs)) {
    // The backward reuses the forward's decay cumsums and chunk states (as large as x when N = Q)
    // rather than recomputing them: three dispatches fewer a backward.
    record(inputs, [y, final], ([dy, dFinal], {inputs: [xs, , Bs, Cs, inits], outputs: [, finals], saved: [acss, enterings]}) =>
      scope(() => ssdChunkedBackward(s, chunk, {x: xs, B: Bs, C: Cs, init: inits}, {acs: acss, entering: enterings, final: finals}, dy, dFinal)),
    [acs, entering])
  }
  acs.dispose()
  entering.dispose()
  return {y, finalState: final}
}

const headOp = (s: SsdShape): Operand => ({heads: s.heads, dim: s.headDim})
const groupOp = (s: SsdShape): Operand => ({heads: s.groups, dim: s.stateDim})

interface ChunkStates {
  /** In-chunk cumulative log-decays [B, H, T]. */
  acs: Tensor
  /** The state entering each chunk [B, H, K, P, N]. */
  entering: Tensor
  /** The state after the last token [B, H, P, N]. */
  final: Tensor
}

/** Steps 1-3 of the chunked scan: in-chunk decay cumsums, chunk states, inter-chunk recurrence. */
function chunkedStates(s: SsdShape, chunk: ChunkShape, x: Tensor, dA: Tensor, B: Tensor, init: Tensor | undefined): ChunkStates {
  const backend = x.backend
  const K = chunkCount(chunk)
  const acs = empty(backend, [s.batch, s.heads, s.seq])
  backend.run(ssdChunkCumsum, chunk, [dA.storage], [acs.storage])
  const own = empty(backend, [s.batch, s.heads, K, s.headDim, s.stateDim])
  backend.run(ssdChunkState, {...chunk, u: headOp(s), v: groupOp(s), decay: 'toEnd'}, [x.storage, B.storage, acs.storage], [own.storage])
  const entering = empty(backend, own.shape)
  const final = empty(backend, [s.batch, s.heads, s.headDim, s.stateDim])
  const pass = {...chunk, size: s.headDim * s.stateDim, reverse: false, init: Boolean(init)}
  backend.run(ssdStatePass, pass, [own.storage, acs.storage, ...(init ? [init.storage] : [])], [entering.storage, final.storage])
  return {acs, entering, final}
}

function mix(chunk: ChunkShape, p: Omit<ChunkMixParams, keyof ChunkShape>, inputs: Tensor[], out: Tensor): void {
  out.backend.run(ssdChunkMix, {...chunk, ...p}, inputs.map((t) => t.storage), [out.storage])
}

/** The backward's forward inputs (dA enters through the saved cumsums). */
interface SsdInputs {
  x: Tensor
  B: Tensor
  C: Tensor
  init: Tensor | undefined
}

/** Gradients [dx, d dA, dB, dC, d initial state] of ssdChunked (see kernels/ssd-mix.ts, ssd-grad.ts). */
function ssdChunkedBackward(s: SsdShape, chunk: ChunkShape, inp: SsdInputs, states: ChunkStates, dyIn: Tensor | undefined, dFinal: Tensor | undefined): (Tensor | undefined)[] {
  const backend = inp.x.backend
  const {x, B, C, init} = inp
  const dy = dyIn ?? zeros(backend, x.shape)
  const {acs, entering, final} = states
  // The adjoint recurrence: what each chunk pushes back onto the state before it, passed in reverse.
  const K = chunkCount(chunk)
  const pushed = empty(backend, [s.batch, s.heads, K, s.headDim, s.stateDim])
  backend.run(ssdChunkState, {...chunk, u: headOp(s), v: groupOp(s), decay: 'fromStart'}, [dy.storage, C.storage, acs.storage], [pushed.storage])
  const leaving = empty(backend, pushed.shape)
  const dInit = empty(backend, [s.batch, s.heads, s.headDim, s.stateDim])
  const pass = {...chunk, size: s.headDim * s.stateDim, reverse: true, init: Boolean(dFinal)}
  backend.run(ssdStatePass, pass, [pushed.storage, acs.storage, ...(dFinal ? [dFinal.storage] : [])], [leaving.storage, dInit.storage])

  const dx = empty(backend, x.shape)
  mix(chunk, {q: groupOp(s), k: groupOp(s), v: headOp(s), anticausal: true, stateLayout: 'ji'}, [B, C, dy, acs, leaving], dx)
  const perHead = [s.batch, s.seq, s.heads, s.stateDim]
  const dBh = empty(backend, perHead)
  mix(chunk, {q: headOp(s), k: headOp(s), v: groupOp(s), anticausal: true, stateLayout: 'ij'}, [x, dy, C, acs, leaving], dBh)
  const dCh = empty(backend, perHead)
  mix(chunk, {q: headOp(s), k: headOp(s), v: groupOp(s), anticausal: false, stateLayout: 'ij'}, [dy, x, B, acs, entering], dCh)
  const ddA = decayGrad(s, dCh, C, dBh, B, dFinal ? [dFinal, final] : [])
  return [dx, ddA, groupSum(s, dBh), groupSum(s, dCh), init ? dInit : undefined]
}

/** d dA [B, T, H] from per-head dC, dB (and the final-state term): a reverse cumsum over time. */
function decayGrad(s: SsdShape, dCh: Tensor, C: Tensor, dBh: Tensor, B: Tensor, finalPair: Tensor[]): Tensor {
  const backend = C.backend
  const terms = empty(backend, [s.batch, s.seq, s.heads])
  const p = {batch: s.batch, seq: s.seq, heads: s.heads, groups: s.groups, stateDim: s.stateDim, stateSize: s.headDim * s.stateDim, final: finalPair.length > 0}
  backend.run(ssdDecayGradTerms, p, [dCh, C, dBh, B, ...finalPair].map((t) => t.storage), [terms.storage])
  const ddA = empty(backend, terms.shape)
  backend.run(cumsumKernel, {outer: s.batch, len: s.seq, inner: s.heads, reverse: true, exclusive: false}, [terms.storage], [ddA.storage])
  return ddA
}

/** Per-head [B, T, H, N] -> per-group [B, T, G, N]. */
function groupSum(s: SsdShape, perHead: Tensor): Tensor {
  if (s.groups === s.heads) return perHead
  const out = empty(perHead.backend, [s.batch, s.seq, s.groups, s.stateDim])
  perHead.backend.run(ssdGroupSum, {rows: s.batch * s.seq, heads: s.heads, groups: s.groups, dim: s.stateDim}, [perHead.storage], [out.storage])
  return out
}

/**
 * One recurrent step for decoding: x [B, H, P], dA [B, H], B, C [B, G, N], state [B, H, P, N]
 * -> y [B, H, P] and the next state [B, H, P, N]. Inference only: it records no backward
 * (train through ssdChunked or ssdMatrix).
 */
export function ssdStep(x: Tensor, dA: Tensor, B: Tensor, C: Tensor, state: Tensor): {y: Tensor; state: Tensor} {
  sameBackend(x, dA, B, C, state)
  const [batch, heads, headDim] = x.shape
  const [, groups, stateDim] = B.shape
  const ok =
    x.rank === 3 &&
    B.rank === 3 &&
    same(dA.shape, [batch, heads]) &&
    same(B.shape, [batch, groups, stateDim]) &&
    same(C.shape, B.shape) &&
    same(state.shape, [batch, heads, headDim, stateDim]) &&
    groups > 0 &&
    heads % groups === 0
  check('ssdStep', ok, () => `x [${x.shape}] (B, H, P), dA [${dA.shape}] (B, H), B [${B.shape}] and C [${C.shape}] (B, G, N), state [${state.shape}] (B, H, P, N)`)
  if (needsGrad([x, dA, B, C, state])) throw new Error('ssdStep is for decoding and has no backward; train through ssdChunked or ssdMatrix')
  const y = empty(x.backend, x.shape)
  const next = empty(x.backend, state.shape)
  x.backend.run(ssdStepKernel, {batch, heads, groups, headDim, stateDim}, [x, dA, B, C, state].map((t) => t.storage), [y.storage, next.storage])
  return {y, state: next}
}

/**
 * The materialised mixing matrix: dA [B, T, H], B, C [B, T, G, N] -> M [B, H, T, T] with
 * M[t, s] = (C_t · B_s) · exp(Σ_{s<k<=t} dA_k) for s <= t and 0 above, so y[:, t, h] = Σ_s M[t, s] x[:, s, h].
 */
export function ssdMatrix(dA: Tensor, B: Tensor, C: Tensor): Tensor {
  sameBackend(dA, B, C)
  const [batch, seq, heads] = dA.shape
  const [, , groups, stateDim] = B.shape
  const ok = dA.rank === 3 && B.rank === 4 && same(B.shape, [batch, seq, groups, stateDim]) && same(C.shape, B.shape) && groups > 0 && heads % groups === 0
  check('ssdMatrix', ok, () => `dA [${dA.shape}] (B, T, H), B [${B.shape}] and C [${C.shape}] (B, T, G, N) with G dividing H`)
  const p = {batch, seq, heads, groups, stateDim}
  const M = empty(dA.backend, [batch, heads, seq, seq])
  dA.backend.run(ssdMatrixKernel, p, [dA.storage, B.storage, C.storage], [M.storage])
  if (needsGrad([dA, B, C])) {
    record([dA, B, C], [M], ([dM], {inputs: [dAs, Bs, Cs]}) => {
      if (!dM) return []
      return scope(() => {
        const s = {batch, seq, heads, headDim: 0, groups, stateDim}
        const perHead = [batch, seq, heads, stateDim]
        const dCh = empty(dA.backend, perHead)
        dA.backend.run(ssdMatrixGrad, {...p, side: 'C'}, [dM.storage, dAs.storage, Bs.storage], [dCh.storage])
        const dBh = empty(dA.backend, perHead)
        dA.backend.run(ssdMatrixGrad, {...p, side: 'B'}, [dM.storage, dAs.storage, Cs.storage], [dBh.storage])
        return [decayGrad(s, dCh, Cs, dBh, Bs, []), groupSum(s, dBh), groupSum(s, dCh)]
      })
    })
  }
  return M
}
