import {availableParallelism} from 'node:os'
import type {MatmulParams} from '../../kernels/matmul.js'
import {matmulRows} from './matmul-rows.js'
import {KC, MR, NR, packPanels, roundUp, type Operand} from './pack.js'
import {heapFloats, type GemmArgs} from './wasm-gemm.js'
import {runGemm} from './worker-pool.js'

/**
 * The CPU backend's fast matmul: pack into shared WASM memory, run the SIMD128 GEMM on every
 * core (this thread plus pooled workers), copy C out adding the bias; one or two rows of A go to
 * the JS row kernels instead. Same parameters and layouts as `matmulCpu`, the reference both are
 * tested against.
 */

/**
 * Fewer rows of A than this go to `matmulRows`: packing B costs more than it saves until about
 * three rows share it (measured at 512 and 2048 squared B).
 */
const MIN_PACKED_ROWS = 3
/** Below this many multiply-adds the reference loop beats packing and the WASM call (measured crossover near 12³). */
const MIN_PACKED_MACS = 16 * 16 * 16
/**
 * Below this many multiply-adds (about 60 µs on one thread) waking helpers costs more than it
 * saves: a round trip through Atomics costs about 10 µs here.
 */
const MIN_PARALLEL_MACS = 128 * 128 * 128
const DEFAULT_THREADS = availableParallelism()
/** Shared-memory floats (1 GiB) one piece may use; larger problems are cut into pieces. */
const PIECE_FLOATS = 2 ** 28

export interface FastMatmulOptions {
  /** Threads to use, this one included (default: the machine's available parallelism). */
  threads?: number
  /** Shared-memory budget of one piece in floats (default 2^28); tests shrink it to reach the cutting. */
  pieceFloats?: number
}

/** A block of the output: batch entries [z0, z0+zCount), rows [i0, i0+rows), cols [j0, j0+cols). */
interface Piece {
  z0: number
  zCount: number
  i0: number
  rows: number
  j0: number
  cols: number
}

/**
 * Compute the matmul and return true, or return false (having done nothing) when the problem
 * is too small to gain from a fast path or too large to pack, and the reference should run.
 */
export function tryMatmulFast(p: MatmulParams, inputs: Float32Array[], outputs: Float32Array[], opts: FastMatmulOptions = {}): boolean {
  if (p.m < MIN_PACKED_ROWS) {
    matmulRows(p, inputs, outputs)
    return true
  }
  if (p.m * p.n * p.k < MIN_PACKED_MACS) return false
  const pieces = planPieces(p, opts.pieceFloats ?? PIECE_FLOATS)
  if (!pieces) return false
  const threads = Math.max(1, opts.threads ?? DEFAULT_THREADS)
  for (const piece of pieces) runPiece(p, piece, inputs, outputs[0], threads)
  return true
}

function planPieces(p: MatmulParams, budget: number): Piece[] | undefined {
  const {batch, m, n, k} = p
  const perEntry = (rows: number, cols: number, withB: boolean): number =>
    roundUp(rows, MR) * k + roundUp(rows, MR) * roundUp(cols, NR) + (withB ? roundUp(cols, NR) * k : 0)
  const sharedB = p.broadcastB ? roundUp(n, NR) * k : 0
  const entriesPerPiece = Math.floor((budget - sharedB) / perEntry(m, n, !p.broadcastB))
  if (entriesPerPiece >= 1) {
    const pieces: Piece[] = []
    for (let z0 = 0; z0 < batch; z0 += entriesPerPiece) {
      pieces.push({z0, zCount: Math.min(entriesPerPiece, batch - z0), i0: 0, rows: m, j0: 0, cols: n})
    }
    return pieces
  }
  // One entry is too big: tile it into row and column blocks that each fit.
  const cols = Math.min(roundUp(n, NR), Math.max(NR, Math.floor(budget / 3 / k / NR) * NR))
  const rows = Math.min(roundUp(m, MR), Math.max(MR, Math.floor((budget - cols * k) / (k + cols) / MR) * MR))
  if (perEntry(rows, cols, true) > budget) return undefined
  const pieces: Piece[] = []
  for (let z0 = 0; z0 < batch; z0++) {
    for (let i0 = 0; i0 < m; i0 += rows) {
      for (let j0 = 0; j0 < n; j0 += cols) {
        pieces.push({z0, zCount: 1, i0, rows: Math.min(rows, m - i0), j0, cols: Math.min(cols, n - j0)})
      }
    }
  }
  return pieces
}

function runPiece(p: MatmulParams, piece: Piece, inputs: Float32Array[], out: Float32Array, threads: number): void {
  const {m, n, k} = p
  const [a, b, bias] = inputs
  const {z0, zCount, i0, rows, j0, cols} = piece
  const mp = roundUp(rows, MR)
  const np = roundUp(cols, NR)
  const bCount = p.broadcastB ? 1 : zCount
  // Shared memory layout in floats: packed A per entry, packed B per entry (or one), then C [mp, np] per entry.
  const aSize = mp * k
  const bSize = np * k
  const cSize = mp * np
  const bBase = zCount * aSize
  const cBase = bBase + bCount * bSize
  const heap = heapFloats(cBase + zCount * cSize)

  for (let z = 0; z < zCount; z++) {
    const aOp: Operand = {data: a, offset: (z0 + z) * m * k, outer: m, k, outerContiguous: p.transA}
    packPanels(aOp, i0, rows, MR, heap, z * aSize)
  }
  for (let z = 0; z < bCount; z++) {
    const bOp: Operand = {data: b, offset: p.broadcastB ? 0 : (z0 + z) * k * n, outer: n, k, outerContiguous: !p.transB}
    packPanels(bOp, j0, cols, NR, heap, bBase + z * bSize)
  }

  const whole: GemmArgs = [
    0, bBase * 4, cBase * 4,
    zCount, aSize * 4, p.broadcastB ? 0 : bSize * 4, cSize * 4,
    mp / MR, np / NR, k, KC,
    0, mp / MR, 0, np / NR,
  ]
  const parallel = zCount * rows * cols * k >= MIN_PARALLEL_MACS ? threads : 1
  runGemm(whole, parallel)

  for (let z = 0; z < zCount; z++) {
    const cOff = cBase + z * cSize
    const outOff = (z0 + z) * m * n + i0 * n + j0
    for (let i = 0; i < rows; i++) {
      const from = cOff + i * np
      const to = outOff + i * n
      if (p.bias) {
        for (let j = 0; j < cols; j++) out[to + j] = heap[from + j] + bias[j0 + j]
      } else {
        out.set(heap.subarray(from, from + cols), to)
      }
    }
  }
}
