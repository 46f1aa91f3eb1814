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
