import {written, type Backend, type Storage} from './backend.js'
import {CPU_FAST_PATHS} from './cpu-fast-paths.js'
import type {Profiler} from './profile.js'
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
  /**
   * A binding limit to imitate a GPU's (default none): pieces of the piecewise losses are sized
   * from it, so tests run the GPU's piecewise paths on the CPU at small shapes.
   */
  maxBindingBytes?: number
  /** Set by HYBRIDIZE_PROFILE (profile.ts): each kernel's calls and host time. */
  profiler?: Profiler
}

/** Bytes of the tensors the CPU backend holds, for memory estimates and the tests that check them. */
export interface CpuMemoryStats {
  liveBytes: number
  /** Most bytes live at once since the last `resetPeak`. */
  peakBytes: number
  /** The largest single tensor allocated since the last `resetPeak`. */
  largestBytes: number
}

/** The CPU backend: every kernel's `cpu` reference on plain typed arrays, or its fast path where it has one. */
export class CpuBackend implements Backend {
  readonly name = 'cpu' as const
  readonly description: string
  readonly fast: boolean
  readonly maxBindingBytes?: number
  readonly memory: CpuMemoryStats = {liveBytes: 0, peakBytes: 0, largestBytes: 0}
  private readonly profiler?: Profiler

  constructor(options: CpuBackendOptions = {}) {
    this.description = options.description ?? 'cpu'
    this.fast = options.fast ?? true
    this.maxBindingBytes = options.maxBindingBytes
    this.profiler = options.profiler
    this.profiler?.describe(this.description, 'cpu')
  }

  alloc(numel: number, dtype: DType): Storage {
    const data = dtype === 'i32' ? new Int32Array(numel) : dtype === 'f32' ? new Float32Array(numel) : new Uint16Array(numel)
    const m = this.memory
    m.liveBytes += data.byteLength
    m.peakBytes = Math.max(m.peakBytes, m.liveBytes)
    m.largestBytes = Math.max(m.largestBytes, data.byteLength)
    return {numel, dtype, data, version: 0} as CpuStorage
  }

  /** Start measuring the peak and the largest tensor from now. */
  resetPeak(): void {
    this.memory.peakBytes = this.memory.liveBytes
    this.memory.largestBytes = 0
  }

  write(storage: Storage, data: HostArray): void {
    (storage as CpuStorage).data.set(data)
    written([storage])
    if (this.profiler) {
      this.profiler.writes.count++
      this.profiler.writes.bytes += data.byteLength
    }
  }

  async read(storage: Storage): Promise<HostArray> {
    if (this.profiler) {
      this.profiler.reads.count++
      this.profiler.snapshot()
    }
    return (storage as CpuStorage).data.slice()
  }

  /** Direct access for CPU-only helpers (samplers, loaders); never a copy. */
  view(storage: Storage): HostArray {
    return (storage as CpuStorage).data
  }

  free(storage: Storage): void {
    const s = storage as CpuStorage
    this.memory.liveBytes -= s.data.byteLength
    s.data = new Float32Array(0)
  }

  run<P>(kernel: Kernel<P>, params: P, inputs: Storage[], outputs: Storage[]): void {
    written(outputs)
    if (!this.profiler) return this.execute(kernel, params, inputs, outputs)
    const launch = this.profiler.dispatch(kernel.name, params)
    const started = performance.now()
    this.execute(kernel, params, inputs, outputs)
    this.profiler.time(launch, (performance.now() - started) * 1e6)
  }

  private execute<P>(kernel: Kernel<P>, params: P, inputs: Storage[], outputs: Storage[]): void {
    const ins = inputs.map((s) => (s as CpuStorage).data)
    const outs = outputs.map((s) => (s as CpuStorage).data)
    const fast = this.fast ? CPU_FAST_PATHS.get(kernel.name) : undefined
    // The fast paths compute in float32: other storage (a float64 test backend) takes the reference.
    if (fast && ins[0] instanceof Float32Array && outs[0] instanceof Float32Array && fast(params, ins, outs as Float32Array[])) return
    kernel.cpu(params, ins, outs)
  }

  async sync(): Promise<void> {
    if (this.profiler) {
      this.profiler.syncs.count++
      this.profiler.snapshot()
    }
  }

  destroy(): void {
    const summary = this.profiler?.finish()
    if (summary) process.stderr.write(summary)
  }
}
