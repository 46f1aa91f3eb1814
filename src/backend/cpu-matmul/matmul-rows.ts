import type {MatmulParams} from '../../kernels/matmul.js'

/**
 * Matmul for a few rows of A at a time (decode: one token), in plain JS with B read where it is.
 * A product with one row has no reuse to pay for copying B into WASM memory, so the fast path
 * here is to touch B once, in memory order, four B rows per pass so each load of A serves four
 * multiply-adds (about 3x the reference loop for B [n, k], 10x for B [k, n]).
 * Same parameters and layouts as `matmulCpu`.
 */
export function matmulRows(p: MatmulParams, inputs: Float32Array[], outputs: Float32Array[]): void {
  const [a, b, bias] = inputs
  const c = outputs[0]
  const {m, n, k} = p
  const gathered = p.transA ? new Float32Array(k) : undefined
  for (let z = 0; z < p.batch; z++) {
    const aOff = z * m * k
    const bOff = p.broadcastB ? 0 : z * k * n
    for (let i = 0; i < m; i++) {
      let x: Float32Array
      if (gathered) {
        for (let kk = 0; kk < k; kk++) gathered[kk] = a[aOff + kk * m + i]
        x = gathered
      } else {
        x = a.subarray(aOff + i * k, aOff + (i + 1) * k)
      }
      const out = c.subarray((z * m + i) * n, (z * m + i + 1) * n)
      if (p.transB) dotRows(x, b, bOff, n, k, out)
      else axpyRows(x, b, bOff, n, k, out)
      if (p.bias) for (let j = 0; j < n; j++) out[j] += bias[j]
    }
  }
}

/** out[j] = x · w[j, :] for w [n, k] at `off`, four rows of w per pass. */
function dotRows(x: Float32Array, w: Float32Array, off: number, n: number, k: number, out: Float32Array): void {
  let j = 0
  for (; j + 3 < n; j += 4) {
    const r0 = off + j * k
    const r1 = r0 + k
    const r2 = r1 + k
    const r3 = r2 + k
    let s0 = 0
    let s1 = 0
    let s2 = 0
    let s3 = 0
    for (let kk = 0; kk < k; kk++) {
      const xv = x[kk]
      s0 += xv * w[r0 + kk]
      s1 += xv * w[r1 + kk]
      s2 += xv * w[r2 + kk]
      s3 += xv * w[r3 + kk]
    }
    out[j] = s0
    out[j + 1] = s1
    out[j + 2] = s2
    out[j + 3] = s3
  }
  for (; j < n; j++) {
    const r = off + j * k
    let s = 0
    for (let kk = 0; kk < k; kk++) s += x[kk] * w[r + kk]
    out[j] = s
  }
}

/** out = Σ_kk x[kk] · b[kk, :] for b [k, n] at `off`, four rows of b per pass. */
function axpyRows(x: Float32Array, b: Float32Array, off: number, n: number, k: number, out: Float32Array): void {
  out.fill(0)
  let kk = 0
  for (; kk + 3 < k; kk += 4) {
    const x0 = x[kk]
    const x1 = x[kk + 1]
    const x2 = x[kk + 2]
    const x3 = x[kk + 3]
    const r0 = off + kk * n
    const r1 = r0 + n
    const r2 = r1 + n
    const r3 = r2 + n
    for (let j = 0; j < n; j++) out[j] += x0 * b[r0 + j] + x1 * b[r1 + j] + x2 * b[r2 + j] + x3 * b[r3 + j]
  }
  for (; kk < k; kk++) {
    const xv = x[kk]
    const r = off + kk * n
    for (let j = 0; j < n; j++) out[j] += xv * b[r + j]
  }
}
