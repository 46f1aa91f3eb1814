import {written, type Backend, type Storage} from './backend.js'
import type {DType, HostArray, Kernel} from '../kernels/kernel.js'

/**
 * A backend that holds no data and runs no kernel: it counts the bytes every tensor would take.
 * The real code of a training step runs on it (ops check shapes and allocate outputs, the tape
 * records, the optimizer allocates its moments) in milliseconds, so the memory a run needs is known
 * from the shapes before any weight is read: `distill --dry-run`. Reads give zeros.
 */
export interface MemoryCount {
  liveBytes: number
  /** Most bytes live at once since the last `resetPeak`. */
  peakBytes: number
  /** The largest single tensor since the last `resetPeak`. */
  largestBytes: number
}

export class ShapesOnlyBackend implements Backend {
  readonly name = 'shapes' as const
  readonly description = 'no device: shapes only (dry run)'
  readonly memory: MemoryCount = {liveBytes: 0, peakBytes: 0, largestBytes: 0}

  /** `maxBindingBytes`: the device's largest binding, which sizes the pieces of the piecewise losses as it would there. */
  constructor(readonly maxBindingBytes?: number) {}

  alloc(numel: number, dtype: DType): Storage {
    const m = this.memory
    m.liveBytes += numel * 4
    m.peakBytes = Math.max(m.peakBytes, m.liveBytes)
    m.largestBytes = Math.max(m.largestBytes, numel * 4)
    return {numel, dtype, version: 0}
  }

  resetPeak(): void {
    this.memory.peakBytes = this.memory.liveBytes
    this.memory.largestBytes = 0
  }

  write(storage: Storage): void {
    written([storage])
  }

  async read(storage: Storage): Promise<HostArray> {
    return storage.dtype === 'i32' ? new Int32Array(storage.numel) : new Float32Array(storage.numel)
  }

  free(storage: Storage): void {
    this.memory.liveBytes -= storage.numel * 4
  }

  run<P>(_kernel: Kernel<P>, _params: P, _inputs: Storage[], outputs: Storage[]): void {
    written(outputs)
  }

  async sync(): Promise<void> {}

  destroy(): void {}
}
