import type {DType, HostArray, Kernel} from '../kernels/kernel.js'

/** Backend-owned memory for one tensor; opaque to everything above the backend. */
export interface Storage {
  readonly numel: number
  readonly dtype: DType
  /**
   * Times written so far, by a kernel as its output or from the host (`written`), so that a copy made
   * from it (mixed precision's f16 weights) knows when it is stale, as torch's tensor `_version` does.
   */
  version: number
}

/** Count a write into each of `storages` (every backend's `run` on its outputs, and `write`). */
export function written(storages: readonly Storage[]): void {
  for (const s of storages) s.version++
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
