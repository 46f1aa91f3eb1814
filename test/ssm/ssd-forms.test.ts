import {describe, expect, it} from 'vitest'
import {ssdChunked, ssdMatrix, ssdStep} from '../../src/engine/ssm-ops.js'
import {fromArray} from '../../src/engine/tensor.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'
import {F64Backend} from './helpers.js'

/**
 * The three forms of the SSD (chunked scan, loop of recurrent steps, materialised matrix times x)
 * against each other and against a plain recurrence written out here.
 */
interface Case {
  batch: number
  seq: number
  heads: number
  headDim: number
  groups: number
  stateDim: number
  chunk: number
}

const CASES: Case[] = [
  {batch: 2, seq: 13, heads: 4, headDim: 3, groups: 2, stateDim: 5, chunk: 4}, // T not a multiple of Q, grouped B/C
  {batch: 1, seq: 16, heads: 2, headDim: 5, groups: 1, stateDim: 3, chunk: 8}, // one group for all heads
  {batch: 2, seq: 7, heads: 3, headDim: 2, groups: 3, stateDim: 4, chunk: 16}, // Q > T: a single short chunk
  {batch: 1, seq: 9, heads: 2, headDim: 4, groups: 2, stateDim: 2, chunk: 1}, // Q = 1: all state passing
  {batch: 1, seq: 70, heads: 2, headDim: 67, groups: 1, stateDim: 18, chunk: 33}, // past the 16 x 64 GPU tiles
]

function inputs(rng: Rng, c: Case) {
  const {batch: Bn, seq: T, heads: H, headDim: P, groups: G, stateDim: N} = c
  return {
    x: rng.floats(Bn * T * H * P),
    // Mostly decays (negative logs) with a few growths, so no sign convention is assumed.
    dA: Float32Array.from(rng.floats(Bn * T * H), (v) => -0.6 * Math.abs(v) + (v > 0.9 ? 0.15 : 0)),
    B: rng.floats(Bn * T * G * N),
    C: rng.floats(Bn * T * G * N),
    h0: rng.floats(Bn * H * P * N),
  }
}

/** h_t = exp(dA_t) h_{t-1} + x_t B_tᵀ, y_t = h_t C_t, in float64. */
function recurrence(c: Case, d: ReturnType<typeof inputs>, withInit: boolean): {y: Float64Array; final: Float64Array} {
  const {batch: Bn, seq: T, heads: H, headDim: P, groups: G, stateDim: N} = c
  const y = new Float64Array(Bn * T * H * P)
  const final = new Float64Array(Bn * H * P * N)
  for (let b = 0; b < Bn; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / G))
      const state = new Float64Array(P * N)
      if (withInit) for (let e = 0; e < P * N; e++) state[e] = d.h0[(b * H + h) * P * N + e]
      for (let t = 0; t < T; t++) {
        const a = Math.exp(d.dA[(b * T + t) * H + h])
        for (let p = 0; p < P; p++) {
          let acc = 0
          for (let n = 0; n < N; n++) {
            const e = p * N + n
            state[e] = a * state[e] + d.x[((b * T + t) * H + h) * P + p] * d.B[((b * T + t) * G + g) * N + n]
            acc += state[e] * d.C[((b * T + t) * G + g) * N + n]
          }
          y[((b * T + t) * H + h) * P + p] = acc
        }
      }
      final.set(state, (b * H + h) * P * N)
    }
  }
  return {y, final}
}

describe('SSD: chunked scan, recurrent steps and mixing matrix agree (CPU)', () => {
  const backend = new F64Backend()

  it.each(CASES)('chunked == recurrence, with and without an initial state: %o', async (c) => {
    const d = inputs(new Rng(c.seq * 7 + c.chunk), c)
    const {batch: Bn, seq: T, heads: H, headDim: P, groups: G, stateDim: N} = c
    const x = fromArray(backend, d.x, [Bn, T, H, P])
    const dA = fromArray(backend, d.dA, [Bn, T, H])
    const B = fromArray(backend, d.B, [Bn, T, G, N])
    const C = fromArray(backend, d.C, [Bn, T, G, N])
    for (const withInit of [false, true]) {
      const initialState = withInit ? fromArray(backend, d.h0, [Bn, H, P, N]) : undefined
      const out = ssdChunked(x, dA, B, C, {chunk: c.chunk, initialState})
      expect(out.y.shape).toEqual([Bn, T, H, P])
      expect(out.finalState.shape).toEqual([Bn, H, P, N])
      const want = recurrence(c, d, withInit)
      expectClose(await out.y.toArray(), want.y, `y (init ${withInit})`, {rtol: 1e-10, atol: 1e-12})
      expectClose(await out.finalState.toArray(), want.final, `final state (init ${withInit})`, {rtol: 1e-10, atol: 1e-12})
    }
  })

  it.each(CASES.slice(0, 4))('a loop of ssdStep == chunked, state threaded through: %o', async (c) => {
    const d = inputs(new Rng(c.seq * 11 + c.chunk), c)
    const {batch: Bn, seq: T, heads: H, headDim: P, groups: G, stateDim: N} = c
    const chunked = ssdChunked(fromArray(backend, d.x, [Bn, T, H, P]), fromArray(backend, d.dA, [Bn, T, H]), fromArray(backend, d.B, [Bn, T, G, N]), fromArray(backend, d.C, [Bn, T, G, N]), {
      chunk: c.chunk,
      initialState: fromArray(backend, d.h0, [Bn, H, P, N]),
    })
    const slice = (data: Float32Array, width: number, t: number): Float32Array => {
      const out = new Float32Array(Bn * width)
      for (let b = 0; b < Bn; b++) out.set(data.subarray((b * T + t) * width, (b * T + t + 1) * width), b * width)
      return out
    }
    let state = fromArray(backend, d.h0, [Bn, H, P, N])
    const y = new Float64Array(Bn * T * H * P)
    for (let t = 0; t < T; t++) {
      const step = ssdStep(
        fromArray(backend, slice(d.x, H * P, t), [Bn, H, P]),
        fromArray(backend, slice(d.dA, H, t), [Bn, H]),
        fromArray(backend, slice(d.B, G * N, t), [Bn, G, N]),
        fromArray(backend, slice(d.C, G * N, t), [Bn, G, N]),
        state,
      )
      const yt = await step.y.toArray()
      for (let b = 0; b < Bn; b++) for (let e = 0; e < H * P; e++) y[(b * T + t) * H * P + e] = yt[b * H * P + e]
      state = step.state
    }
    expectClose(y, await chunked.y.toArray(), 'y', {rtol: 1e-10, atol: 1e-12})
    expectClose(await state.toArray(), await chunked.finalState.toArray(), 'final state', {rtol: 1e-10, atol: 1e-12})
  })

  it.each(CASES)('ssdMatrix · x == chunked (zero initial state): %o', async (c) => {
    const d = inputs(new Rng(c.seq * 13 + c.chunk), c)
    const {batch: Bn, seq: T, heads: H, headDim: P, groups: G, stateDim: N} = c
    const M = await ssdMatrix(fromArray(backend, d.dA, [Bn, T, H]), fromArray(backend, d.B, [Bn, T, G, N]), fromArray(backend, d.C, [Bn, T, G, N])).toArray()
    const y = new Float64Array(Bn * T * H * P)
    for (let b = 0; b < Bn; b++) {
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < T; t++) {
          for (let s = 0; s < T; s++) {
            const m = M[((b * H + h) * T + t) * T + s]
            if (s > t) expect(m, `M[${t}, ${s}] above the diagonal`).toBe(0)
            for (let p = 0; p < P; p++) y[((b * T + t) * H + h) * P + p] += m * d.x[((b * T + s) * H + h) * P + p]
          }
        }
      }
    }
    expectClose(y, recurrence(c, d, false).y, 'M x', {rtol: 1e-10, atol: 1e-12})
  })

  it('rejects groups that do not divide the heads, and a mismatched initial state', () => {
    const t = (shape: number[]) => fromArray(backend, new Float32Array(shape.reduce((a, b) => a * b, 1)), shape)
    expect(() => ssdChunked(t([1, 4, 3, 2]), t([1, 4, 3]), t([1, 4, 2, 5]), t([1, 4, 2, 5]), {chunk: 2})).toThrow(/ssdChunked: .*G dividing H/)
    expect(() => ssdChunked(t([1, 4, 2, 2]), t([1, 4, 2]), t([1, 4, 1, 5]), t([1, 4, 1, 5]), {chunk: 2, initialState: t([1, 2, 5, 2])})).toThrow(/initial state \[1,2,5,2\], expected \[1, 2, 2, 5\]/)
    expect(() => ssdMatrix(t([1, 4, 2]), t([1, 3, 1, 5]), t([1, 3, 1, 5]))).toThrow(/ssdMatrix/)
  })
})
