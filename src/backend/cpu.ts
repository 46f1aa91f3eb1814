import type {Backend, Storage} from './backend.js'
import type {DType, HostArray, Kernel} from '../kernels/kernel.js'

interface CpuStorage extends Storage {
  data: HostArray
}

/** The reference backend: every kernel's `cpu` twin on plain typed arrays. */
export class CpuBackend implements Backend {
  readonly name = 'cpu' as const

  constructor(readonly description = 'cpu') {}

  alloc(numel: number, dtype: DType): Storage {
    const data = dtype === 'i32' ? new Int32Array(numel) : new Float32Array(numel)
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
    kernel.cpu(params, inputs.map((s) => (s as CpuStorage).data), outputs.map((s) => (s as CpuStorage).data))
  }

  async sync(): Promise<void> {}

  destroy(): void {}
}
