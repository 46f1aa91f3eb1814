import type {AttentionParams} from '../../kernels/attention.js'
import {attentionHeap, wasmAttention} from './wasm-attention.js'

/**
 * The CPU backend's fast attention forward: copy q, k, v into WASM memory, run attention.wat's
 * SIMD128 kernel, copy out and probabilities back. Same parameters and layouts as
 * `attentionCpu`, the reference it is tested against.
 */

/** Below this many multiply-adds (q·k and p·v together) the reference loop is as fast (measured crossover near 300). */
const MIN_MACS = 512
/** Memory (floats, 1 GiB) one piece may use; larger problems run in groups of batch entries. */
const PIECE_FLOATS = 2 ** 28
/** Spare key rows after k: the kernel scores keys in groups of 4 and reads up to 3 rows past the last. */
const SPARE_KEY_ROWS = 3

export interface FastAttentionOptions {
  /** Memory budget of one piece in floats (default 2^28); tests shrink it to reach the cutting. */
  pieceFloats?: number
}

const roundUp4 = (n: number): number => Math.ceil(n / 4) * 4

/** Float offsets of each array in WASM memory for `entries` batch entries, 16-byte aligned. */
interface Layout {
  q: number
  k: number
  v: number
  out: number
  mask: number
  probs: number
  scratch: number
  end: number
}

function layout(p: AttentionParams, entries: number): Layout {
  const {tq, tk, hq, hkv, d} = p
  const qSize = entries * tq * hq * d
  const kvSize = (entries * tk + SPARE_KEY_ROWS) * hkv * d
  const q = 0
  const k = q + qSize
  const v = k + kvSize
  const out = v + kvSize
  const mask = out + qSize
  const probs = mask + roundUp4(hq)
  const scratch = probs + (p.returnProbs ? roundUp4(entries * hq * tq * tk) : 0)
  return {q, k, v, out, mask, probs, scratch, end: scratch + roundUp4(tk + 4)}
}

/**
 * Compute the attention and return true, or return false (having done nothing) when the problem is
 * too small to gain from the fast path or of a shape the kernel does not take, and the reference
 * should run.
 */
export function tryAttentionFast(p: AttentionParams, inputs: Float32Array[], outputs: Float32Array[], opts: FastAttentionOptions = {}): boolean {
  const {batch, tq, tk, hq, hkv, d} = p
  if (d % 4 !== 0 || d === 0 || tq < 1 || tq > tk || hq % hkv !== 0) return false
  if (batch * hq * d * (tq * tk - (tq * (tq - 1)) / 2) * 2 < MIN_MACS) return false
  const entries = Math.floor((opts.pieceFloats ?? PIECE_FLOATS) / layout(p, 1).end)
  if (entries < 1) return false
  for (let z0 = 0; z0 < batch; z0 += entries) runPiece(p, z0, Math.min(entries, batch - z0), inputs, outputs)
  return true
}

function runPiece(p: AttentionParams, z0: number, count: number, inputs: Float32Array[], outputs: Float32Array[]): void {
  const {tq, tk, hq, hkv, d} = p
  const [q, k, v, mask] = inputs
  const [out, probs] = outputs
  const kvRows = p.kvRows ?? tk
  const at = layout(p, count)
  const heap = attentionHeap(at.end)
  const qEntry = tq * hq * d
  const kvEntry = tk * hkv * d
  heap.set(q.subarray(z0 * qEntry, (z0 + count) * qEntry), at.q)
  for (let z = 0; z < count; z++) {
    const from = (z0 + z) * kvRows * hkv * d
    heap.set(k.subarray(from, from + kvEntry), at.k + z * kvEntry)
    heap.set(v.subarray(from, from + kvEntry), at.v + z * kvEntry)
  }
  if (p.headMask) heap.set(mask.subarray(0, hq), at.mask)
  else heap.fill(1, at.mask, at.mask + hq)

  wasmAttention().attend(
    at.q * 4, at.k * 4, at.v * 4, at.out * 4, at.mask * 4, at.probs * 4, p.returnProbs ? 1 : 0, at.scratch * 4,
    tq, tk, hq, hkv, d, p.scale, 0, count * hq,
  )

  out.set(heap.subarray(at.out, at.out + count * qEntry), z0 * qEntry)
  if (p.returnProbs) {
    const probsEntry = hq * tq * tk
    probs.set(heap.subarray(at.probs, at.probs + count * probsEntry), z0 * probsEntry)
  }
}
