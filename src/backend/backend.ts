import type {DType, HostArray, Kernel} from '../kernels/kernel.js'

/** Backend-owned memory for one tensor; opaque to everything above the backend. */
export interface Storage {
  readonly numel: number
  readonly dtype: DType
}

/**
 * The fixed interface every backend implements (cpu.ts, webgpu.ts): memory in and out,
 * and `run`, which executes one kernel. Ops and models above see nothing else.
 * `run` is synchronous from the caller's view: the CPU backend computes at once, the WebGPU
 * backend encodes into its current command buffer and submits on `read`/`sync`.
 */
export interface Backend {
  readonly name: 'cpu' | 'webgpu' | 'shapes'
  /** One line for humans: which device, and why it was picked. */
  readonly description: string
  /**
   * The largest tensor, in bytes, one kernel can bind (WebGPU's maxStorageBufferBindingSize);
   * undefined where there is no such limit. Losses over huge tensors cut their work into pieces below it.
   */
  readonly maxBindingBytes?: number
  alloc(numel: number, dtype: DType): Storage
  write(storage: Storage, data: HostArray): void
  read(storage: Storage): Promise<HostArray>
  free(storage: Storage): void
  run<P>(kernel: Kernel<P>, params: P, inputs: Storage[], outputs: Storage[]): void
  /** Wait until all work so far is done. */
  sync(): Promise<void>
  destroy(): void
}
