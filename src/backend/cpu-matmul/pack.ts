/**
 * Panel packing for the WASM GEMM (layout in gemm.wat). Packing turns all four transpose cases
 * into one kernel and pads rows to MR and columns to NR, so the kernel never sees an edge. Padding
 * lanes are left as they were: SIMD lanes never mix, so they only reach the padded rows and
 * columns of C, which are never read.
 *
 * Packed A for rows [i0, i0+rows): per K block of kc steps, [ceil(rows/MR)][kc][MR].
 * Packed B for cols [j0, j0+cols): per K block of kc steps, [ceil(cols/NR)][kc][NR].
 */
export const MR = 4
export const NR = 8
/** K steps per block: one B panel (KC x NR floats, 8 KiB) stays in L1 while A streams from L2. */
export const KC = 256

export const roundUp = (x: number, to: number): number => Math.ceil(x / to) * to

/** One operand matrix inside a flat array, with its logical [outer, k] view (A: rows, B: cols). */
export interface Operand {
  data: Float32Array
  offset: number
  /** Logical outer size (A: m rows, B: n cols) and the shared inner size k. */
  outer: number
  k: number
  /**
   * Whether the outer index is the fast one in memory: A with transA ([k, m]) or B without
   * transB ([k, n]). Otherwise k is fast (A [m, k], B [n, k]).
   */
  outerContiguous: boolean
}

/**
 * Pack outer indices [start, start+count) of `src` into panels of `width` (MR for A, NR for B),
 * laying out (roundUp(count, width) * k) floats from dst[dstOff].
 */
export function packPanels(src: Operand, start: number, count: number, width: number, dst: Float32Array, dstOff: number): void {
  const {data, offset, outer, k} = src
  const padded = roundUp(count, width)
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = Math.min(KC, k - p0)
    const block = dstOff + p0 * padded
    for (let panel = 0; panel < padded; panel += width) {
      const base = block + panel * kc
      const lanes = Math.min(width, count - panel)
      if (src.outerContiguous) {
        for (let kk = 0; kk < kc; kk++) {
          const from = offset + (p0 + kk) * outer + start + panel
          const to = base + kk * width
          for (let l = 0; l < lanes; l++) dst[to + l] = data[from + l]
        }
      } else {
        // Four source rows per pass, so each pass writes whole 16-byte groups in order
        // (one row at a time, with writes a panel width apart, measured 4x slower).
        let l = 0
        for (; l + 4 <= lanes; l += 4) {
          const f0 = offset + (start + panel + l) * k + p0
          const f1 = f0 + k
          const f2 = f1 + k
          const f3 = f2 + k
          for (let kk = 0, to = base + l; kk < kc; kk++, to += width) {
            dst[to] = data[f0 + kk]
            dst[to + 1] = data[f1 + kk]
            dst[to + 2] = data[f2 + kk]
            dst[to + 3] = data[f3 + kk]
          }
        }
        for (; l < lanes; l++) {
          const from = offset + (start + panel + l) * k + p0
          for (let kk = 0; kk < kc; kk++) dst[base + kk * width + l] = data[from + kk]
        }
      }
    }
  }
}
