import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {compileWasmModule, wasmModulePath} from '../scripts/build-wasm.mjs'
import {tryAttentionFast, type FastAttentionOptions} from '../src/backend/cpu-attention/attention-fast.js'
import {attention, attentionCpu, type AttentionParams} from '../src/kernels/attention.js'
import {CpuBackend} from '../src/backend/cpu.js'
import {runKernel} from './helpers/backends.js'
import {expectClose} from './helpers/close.js'
import {Rng} from './helpers/random.js'

type Shape = Pick<AttentionParams, 'batch' | 'tq' | 'tk' | 'hq' | 'hkv' | 'd'> & {kvRows?: number}

interface Case {
  p: AttentionParams
  inputs: Float32Array[]
  outSizes: number[]
}

function caseFor(shape: Shape, rng: Rng, opts: {headMask: boolean; returnProbs: boolean}): Case {
  const {batch, tq, tk, hq, hkv, d} = shape
  const p: AttentionParams = {...shape, scale: 1 / Math.sqrt(d), ...opts}
  const kvSize = batch * (shape.kvRows ?? tk) * hkv * d
  // Scores spread over several units so the softmax is far from uniform.
  const inputs = [rng.floats(batch * tq * hq * d, 3), rng.floats(kvSize, 3), rng.floats(kvSize)]
  // A zero in the mask ablates a head: its output must be exactly zero.
  if (opts.headMask) inputs.push(Float32Array.from({length: hq}, (_, h) => (h % 3 === 1 ? 0 : 0.5 + rng.next())))
  return {p, inputs, outSizes: [batch * tq * hq * d, ...(opts.returnProbs ? [batch * hq * tq * tk] : [])]}
}

/** Run the fast path (which must take the problem) and the reference; compare. */
function checkFast({p, inputs, outSizes}: Case, label: string, opts: FastAttentionOptions = {}): void {
  const fast = outSizes.map((n) => new Float32Array(n).fill(NaN))
  const ref = outSizes.map((n) => new Float32Array(n))
  expect(tryAttentionFast(p, inputs, fast, opts), `fast path taken for ${label}`).toBe(true)
  attentionCpu(p, inputs, ref)
  // Outputs are weighted means of values in [-1, 1]; probabilities are in [0, 1].
  expectClose(fast[0], ref[0], `${label} out`, {rtol: 1e-5, atol: 1e-5})
  if (p.headMask) {
    const {batch, tq, hq, d} = p
    for (let row = 0; row < batch * tq; row++) {
      for (let h = 1; h < hq; h += 3) expect(fast[0].subarray((row * hq + h) * d, (row * hq + h + 1) * d).every((x) => x === 0)).toBe(true)
    }
  }
  if (p.returnProbs) expectClose(fast[1], ref[1], `${label} probs`, {rtol: 1e-5, atol: 1e-6})
}

describe('CPU fast attention', () => {
  it('ships the bytes that attention.wat compiles to', async () => {
    const committed = readFileSync(wasmModulePath('attention'), 'utf8')
    expect(committed).toBe(await compileWasmModule('attention'))
  })

  it('agrees with the reference: GQA, head masks, decode offsets into a longer cache, probabilities, head dims 4 to 128', () => {
    const rng = new Rng(31)
    const shapes: Shape[] = [
      {batch: 40, tq: 125, tk: 125, hq: 8, hkv: 8, d: 16}, // find-heads' shape
      {batch: 2, tq: 33, tk: 33, hq: 6, hkv: 2, d: 32}, // GQA groups of 3
      {batch: 3, tq: 1, tk: 70, hq: 4, hkv: 1, d: 64, kvRows: 96}, // one decode step, cache rows past tk
      {batch: 2, tq: 5, tk: 37, hq: 4, hkv: 2, d: 80, kvRows: 40}, // a decoded chunk, d = 5 blocks of 16 features
      {batch: 1, tq: 19, tk: 19, hq: 2, hkv: 2, d: 4}, // only the 4-feature output loop
      {batch: 1, tq: 9, tk: 9, hq: 2, hkv: 1, d: 128},
      {batch: 1, tq: 2, tk: 2, hq: 16, hkv: 8, d: 8}, // fewest keys: one group of 4, two of them past the end
    ]
    for (const shape of shapes) {
      for (const [headMask, returnProbs] of [[false, false], [true, false], [false, true], [true, true]]) {
        checkFast(caseFor(shape, rng, {headMask, returnProbs}), `${JSON.stringify(shape)} mask ${headMask} probs ${returnProbs}`)
      }
    }
  })

  it('agrees with the reference on random shapes', () => {
    const rng = new Rng(2025)
    // At least 8 queries and 8 features: above the fast path's size floor.
    for (let trial = 0; trial < 20; trial++) {
      const hkv = rng.int(1, 3)
      const tq = rng.int(8, 50)
      const tk = tq + rng.pick([0, 0, rng.int(1, 40)])
      const shape: Shape = {batch: rng.int(1, 3), tq, tk, hq: hkv * rng.int(1, 3), hkv, d: 4 * rng.int(2, 32), kvRows: tk + rng.pick([0, rng.int(1, 9)])}
      checkFast(caseFor(shape, rng, {headMask: rng.next() < 0.5, returnProbs: rng.next() < 0.5}), `trial ${trial} ${JSON.stringify(shape)}`)
    }
  })

  it('runs batches larger than its memory budget in groups of entries', () => {
    const c = caseFor({batch: 7, tq: 12, tk: 20, hq: 4, hkv: 2, d: 16, kvRows: 24}, new Rng(5), {headMask: true, returnProbs: true})
    // One entry needs about 6.6k floats: groups of 3, 3, 1.
    checkFast(c, 'pieces of 3 entries', {pieceFloats: 20_000})
  })

  it('declines what it does not take, and the CPU backend then runs the reference', async () => {
    const rng = new Rng(9)
    const declined: Shape[] = [
      {batch: 1, tq: 4, tk: 4, hq: 2, hkv: 1, d: 8}, // too small to gain: 320 multiply-adds
      {batch: 2, tq: 30, tk: 30, hq: 4, hkv: 2, d: 18}, // d not a multiple of 4
    ]
    for (const shape of declined) {
      const {p, inputs, outSizes} = caseFor(shape, rng, {headMask: true, returnProbs: true})
      const outputs = outSizes.map((n) => new Float32Array(n))
      expect(tryAttentionFast(p, inputs, outputs), JSON.stringify(shape)).toBe(false)
      expect(outputs.every((o) => o.every((x) => x === 0)), 'nothing written').toBe(true)
      const viaBackend = await runKernel(new CpuBackend(), attention, p, inputs, outSizes)
      const ref = outSizes.map((n) => new Float32Array(n))
      attentionCpu(p, inputs, ref)
      expect(viaBackend).toEqual(ref)
    }
  })
})
