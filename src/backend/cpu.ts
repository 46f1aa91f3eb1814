import type {Backend, Storage} from './backend.js'
import {CPU_FAST_PATHS} from './cpu-fast-paths.js'
import type {DType, HostArray, Kernel} from '../kernels/kernel.js'

interface CpuStorage extends Storage {
  data: HostArray
}

export interface CpuBackendOptions {
  /** One line for humans: why the CPU was picked (default 'cpu'). */
  description?: string
  /**
   * Run the fast paths of cpu-fast-paths.ts where they apply (default true); false runs every
   * kernel's `cpu` reference, which tests check the fast paths and the WGSL against.
   */
  fast?: boolean
}

/** The CPU backend: every kernel's `cpu` reference on plain typed arrays, or its fast path where it has one. */
export class CpuBackend implements Backend {
  readonly name = 'cpu' as const
  readonly description: string
  readonly fast: boolean

  constructor(options: CpuBackendOptions = {}) {
    this.description = options.description ?? 'cpu'
    this.fast = options.fast ?? true
  }

  alloc(numel: number, dtype: DType): Storage {
    const data = dtype === 'i32' ? new Int32Array(numel) : dtype === 'f32' ? new Float32Array(numel) : new Uint16Array(numel)
    return {numel, dtype, data} as CpuStorage
  }

  write(storage: Storage, data: HostArray): void {
    (storage as CpuStorage).data.set(data)
  }

  async read(storage: Storage): Promise<HostArray> {
    return (storage as CpuStorage).data.slice()
  }

  /** Direct access for CPU-only helpers (samplers, loaders); never a copy. */
  view(storage: Storage): HostArray {
    return (storage as CpuStorage).data
  }

  free(storage: Storage): void {
    (storage as CpuStorage).data = new Float32Array(0)
  }

  run<P>(kernel: Kernel<P>, params: P, inputs: Storage[], outputs: Storage[]): void {
    const ins = inputs.map((s) => (s as CpuStorage).data)
    const outs = outputs.map((s) => (s as CpuStorage).data)
    const fast = this.fast ? CPU_FAST_PATHS.get(kernel.name) : undefined
    // The fast paths compute in float32: other storage (a float64 test backend) takes the reference.
    if (fast && ins[0] instanceof Float32Array && outs[0] instanceof Float32Array && fast(params, ins, outs as Float32Array[])) return
    kernel.cpu(params, ins, outs)
  }

  async sync(): Promise<void> {}

  destroy(): void {}
}
