import type {Backend} from '../../src/backend/backend.js'
import type {HostArray, Kernel} from '../../src/kernels/kernel.js'

/**
 * What a kernel file's checks get from `npm run bench -- --check` (bench/checks.ts): `check` runs a
 * kernel on the device under test and on the CPU and records ‖gpu − cpu‖ / ‖cpu‖ against `tol`;
 * `reference` runs it on the CPU only (inputs a later check needs).
 */
export interface Checker {
  device: Backend
  check<P>(name: string, kernel: Kernel<P>, params: P, inputs: HostArray[], sizes: number[], tol: number): Promise<void>
  reference<P>(kernel: Kernel<P>, params: P, inputs: HostArray[], sizes: number[]): Promise<HostArray[]>
}

/** n values in [-0.5, 0.5) from a seed (an LCG: the same inputs on every machine). */
export function randomArray(n: number, seed: number): Float32Array {
  const out = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0
    out[i] = s / 2 ** 32 - 0.5
  }
  return out
}
