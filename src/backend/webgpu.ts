import {written, type Backend, type Storage} from './backend.js'
import type {AdapterSubgroups, DeviceFeatures} from '../kernels/device-features.js'
import type {DType, HostArray, Kernel} from '../kernels/kernel.js'
import {bytesPerValue} from '../kernels/half-precision.js'
import {HybridizeError} from '../errors.js'
import {BufferPool, BufferUsage, MAP_MODE_READ, UniformRing} from './webgpu-pools.js'
import type {Profiler} from './profile.js'
import {DispatchTimestamps} from './webgpu-timestamps.js'

interface GpuStorage extends Storage {
  buffer: GPUBuffer | undefined
  /** Bytes bound and copied: numel * 4 (half precision: 2, rounded up to whole words), at least 4 so 0-element tensors still bind. */
  readonly bytes: number
}

interface CachedLayout {
  bindGroup: GPUBindGroupLayout
  pipeline: GPUPipelineLayout
  /** Inputs, outputs, uniforms: what fixes the layout. */
  key: string
}

interface CachedPipeline {
  pipeline: GPUComputePipeline
  layout: GPUBindGroupLayout
  layoutKey: string
}

/** Dispatches encoded before the batch is submitted without waiting for a read or sync. */
const MAX_BATCH = 128
const UNIFORM_RING_BYTES = 64 * 1024
/** GPUBufferUsage.QUERY_RESOLVE. */
const QUERY_RESOLVE = 0x200
/** Bind groups kept for reuse; the cache starts over when it grows past this. */
const MAX_BIND_GROUPS = 8192

/**
 * The WebGPU backend over Dawn. Kernels are encoded into one compute pass and submitted on
 * `read`, `sync`, `write`, or every MAX_BATCH dispatches. Dawn reports validation and WGSL errors
 * asynchronously (error scopes resolve later), so an error in `run` surfaces as a rejected
 * `read` or `sync` whose message names the kernel: `webgpu kernel <name>: <dawn message>`.
 */
export class WebGpuBackend implements Backend, DeviceFeatures {
  readonly name = 'webgpu' as const
  private readonly storagePool: BufferPool
  private readonly stagingPool: BufferPool
  private readonly ring: UniformRing
  private readonly pipelines = new Map<string, CachedPipeline>()
  private readonly modules = new Map<string, GPUShaderModule>()
  private readonly layouts = new Map<string, CachedLayout>()
  /**
   * Bind groups by layout, buffers and sizes. Uniforms are bound with a dynamic offset into the
   * ring, so a training step that meets the same pooled buffers again reuses its bind groups.
   */
  private readonly bindGroups = new Map<string, GPUBindGroup>()
  private readonly bufferIds = new WeakMap<GPUBuffer, number>()
  private nextBufferId = 0
  private encoder: GPUCommandEncoder | undefined
  private pass: GPUComputePassEncoder | undefined
  private batched = 0
  /** Submits so far: a timed region must not span two. */
  private submits = 0
  private timestamps: {querySet: GPUQuerySet; resolve: GPUBuffer; readback: GPUBuffer} | undefined
  /** Error-scope results not yet looked at, in the order the calls were made. */
  private pendingErrors: Promise<Error | undefined>[] = []
  private lost: string | undefined
  /** While profiling (HYBRIDIZE_PROFILE) with timestamp-query: each dispatch's GPU time. */
  private readonly stamps: DispatchTimestamps | undefined

  /**
   * `gpu`: Dawn's instance, held so it lives as long as the device.
   * `features`: the optional WebGPU features granted (shader-f16, subgroups, timestamp-query,
   * chromium-experimental-subgroup-matrix), so kernels can pick variants; `subgroups`: what those
   * features come with. `profiler`: set by HYBRIDIZE_PROFILE (profile.ts), else nothing is recorded.
   */
  constructor(
    private readonly gpu: GPU,
    readonly device: GPUDevice,
    readonly description: string,
    readonly features: readonly string[],
    readonly subgroups: AdapterSubgroups = {minSize: 0, maxSize: 0, matrixConfigs: []},
    private readonly profiler?: Profiler,
  ) {
    const create = (descriptor: GPUBufferDescriptor): GPUBuffer =>
      this.guard(`alloc ${descriptor.size} bytes`, () => device.createBuffer(descriptor), ['out-of-memory', 'validation'])
    this.storagePool = new BufferPool(create, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST, 'storage')
    this.stagingPool = new BufferPool(create, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'staging')
    this.ring = new UniformRing(device, UNIFORM_RING_BYTES, device.limits.minUniformBufferOffsetAlignment)
    device.addEventListener('uncapturederror', (event) => {
      const message = (event as GPUUncapturedErrorEvent).error.message
      this.pendingErrors.push(Promise.resolve(new Error(`webgpu: ${message}`)))
    })
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lost = info.message || 'the device was lost'
    })
    if (profiler) {
      const timed = features.includes('timestamp-query')
      if (timed) this.stamps = new DispatchTimestamps(device, profiler, MAX_BATCH)
      profiler.describe(description, timed ? 'gpu-timestamps' : {none: 'this adapter has no timestamp-query'})
    }
  }

  get maxBindingBytes(): number {
    return this.device.limits.maxStorageBufferBindingSize
  }

  /** Bytes held in GPU storage buffers, in use or pooled. */
  get allocatedBytes(): number {
    return this.storagePool.allocatedBytes
  }

  /** Destroy the pooled buffers no tensor holds, so `allocatedBytes` counts live tensors only (memory measurements). */
  async trimPool(): Promise<void> {
    await this.sync()
    this.bindGroups.clear()
    this.storagePool.trim()
  }

  alloc(numel: number, dtype: DType): Storage {
    this.assertAlive()
    const bytes = Math.max(4, 4 * Math.ceil((numel * bytesPerValue(dtype)) / 4))
    const limit = this.maxBindingBytes
    if (bytes > limit) {
      throw new HybridizeError(`a tensor of ${numel} values (${bytes} bytes) exceeds this GPU's largest storage binding (${limit} bytes); use --device cpu`)
    }
    const buffer = this.storagePool.acquire(bytes)
    return {numel, dtype, buffer, bytes, version: 0} as GpuStorage
  }

  write(storage: Storage, data: HostArray): void {
    const buffer = this.bufferOf(storage)
    if (data.length > storage.numel) throw new Error(`write of ${data.length} values into a storage of ${storage.numel}`)
    written([storage])
    // Queue writes run before any later submit: flush first so kernels encoded earlier read the old data.
    if (this.batched > 0) this.flush()
    if (this.profiler) {
      this.profiler.writes.count++
      this.profiler.writes.bytes += data.byteLength
    }
    // writeBuffer takes whole words: an odd count of half values is padded with one zero half.
    const words = data.byteLength % 4 === 0 ? data : padToWord(data as Uint16Array)
    if (data.length > 0) this.device.queue.writeBuffer(buffer, 0, words.buffer, words.byteOffset, words.byteLength)
  }

  async read(storage: Storage): Promise<HostArray> {
    const source = this.bufferOf(storage)
    const bytes = (storage as GpuStorage).bytes
    const staging = this.stagingPool.acquire(bytes)
    this.endPass()
    this.commandEncoder().copyBufferToBuffer(source, 0, staging, 0, bytes)
    this.flush()
    try {
      const map = (): Promise<void> => staging.mapAsync(MAP_MODE_READ, 0, bytes)
      await (this.profiler ? this.profiler.wait(this.profiler.reads, map) : map())
    } catch (err) {
      await this.throwPendingErrors()
      throw err
    }
    const copy = staging.getMappedRange(0, bytes).slice(0, storage.numel * bytesPerValue(storage.dtype))
    staging.unmap()
    this.stagingPool.release(staging)
    await this.stamps?.collect()
    await this.throwPendingErrors()
    return storage.dtype === 'i32' ? new Int32Array(copy) : storage.dtype === 'f32' ? new Float32Array(copy) : new Uint16Array(copy)
  }

  free(storage: Storage): void {
    const s = storage as GpuStorage
    if (!s.buffer) return
    // Safe even while encoded kernels still use it: later users are encoded after them.
    this.storagePool.release(s.buffer)
    s.buffer = undefined
  }

  run<P>(kernel: Kernel<P>, params: P, inputs: Storage[], outputs: Storage[]): void {
    this.assertAlive()
    const {workgroups, uniforms} = kernel.gpu.dispatch(params)
    const cached = this.pipeline(kernel, params, inputs.length, outputs.length, Boolean(uniforms))
    if (this.batched >= MAX_BATCH || (uniforms && !this.ring.fits(uniforms.length))) this.flush()
    const slot = uniforms ? this.ring.push(uniforms) : undefined
    const bindGroup = this.bindGroup(kernel.name, cached, [...inputs, ...outputs], slot?.size)
    const launch = this.profiler?.dispatch(kernel.name, params)
    const pass = launch && this.stamps ? this.timedPass(this.stamps.passFor(launch)) : this.computePass()
    pass.setPipeline(cached.pipeline)
    pass.setBindGroup(0, bindGroup, slot ? [slot.offset] : [])
    pass.dispatchWorkgroups(...workgroups)
    written(outputs)
    this.batched++
  }

  /**
   * Milliseconds the GPU spent on the kernels `work` runs: timestamps written at the start and end
   * of one compute pass that holds them all, so host-side dispatch cost is left out. Undefined
   * without timestamp-query, when `work` runs more dispatches than one submit holds (MAX_BATCH), or
   * while profiling (which gives each dispatch a timed pass of its own).
   */
  async gpuTime(work: () => void): Promise<number | undefined> {
    if (!this.features.includes('timestamp-query') || this.stamps) return undefined
    this.flush()
    this.timestamps ??= {
      querySet: this.device.createQuerySet({type: 'timestamp', count: 2}),
      resolve: this.device.createBuffer({size: 16, usage: QUERY_RESOLVE | BufferUsage.COPY_SRC}),
      readback: this.device.createBuffer({size: 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST}),
    }
    const {querySet, resolve, readback} = this.timestamps
    const encoder = this.commandEncoder()
    this.pass = encoder.beginComputePass({timestampWrites: {querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1}})
    const submits = this.submits
    work()
    if (this.submits !== submits || this.encoder !== encoder) {
      await this.sync()
      return undefined
    }
    this.endPass()
    encoder.resolveQuerySet(querySet, 0, 2, resolve, 0)
    encoder.copyBufferToBuffer(resolve, 0, readback, 0, 16)
    this.flush()
    await readback.mapAsync(MAP_MODE_READ)
    const [start, end] = new BigUint64Array(readback.getMappedRange().slice(0))
    readback.unmap()
    await this.throwPendingErrors()
    return Number(end - start) / 1e6
  }

  async sync(): Promise<void> {
    this.flush()
    const done = (): Promise<void> => this.device.queue.onSubmittedWorkDone()
    await (this.profiler ? this.profiler.wait(this.profiler.syncs, done) : done())
    await this.stamps?.collect()
    await this.throwPendingErrors()
  }

  destroy(): void {
    const summary = this.profiler?.finish()
    if (summary) process.stderr.write(summary)
    this.encoder = undefined
    this.pass = undefined
    this.bindGroups.clear()
    this.storagePool.trim()
    this.stagingPool.trim()
    this.device.destroy()
  }

  private pipeline<P>(kernel: Kernel<P>, params: P, nIn: number, nOut: number, hasUniforms: boolean): CachedPipeline {
    const key = `${kernel.name}:${kernel.gpu.key(params)}|${nIn},${nOut},${hasUniforms ? 'u' : ''}`
    const hit = this.pipelines.get(key)
    if (hit) return hit
    const what = `kernel ${kernel.name}`
    const started = this.profiler ? performance.now() : undefined
    const layout = this.layout(nIn, nOut, hasUniforms)
    const code = kernel.gpu.code(params)
    let module = this.modules.get(code)
    if (!module) {
      module = this.guard(what, () => this.device.createShaderModule({code, label: kernel.name}))
      this.modules.set(code, module)
    }
    const pipeline = this.guard(what, () => this.device.createComputePipeline({layout: layout.pipeline, compute: {module}, label: key}))
    const cached = {pipeline, layout: layout.bindGroup, layoutKey: layout.key}
    this.pipelines.set(key, cached)
    if (this.profiler && started !== undefined) {
      this.profiler.pipelines.compiled++
      this.profiler.pipelines.ms += performance.now() - started
    }
    return cached
  }

  private bindGroup(name: string, cached: CachedPipeline, storages: Storage[], uniformBytes: number | undefined): GPUBindGroup {
    const buffers = storages.map((s) => this.bufferOf(s))
    let key = cached.layoutKey
    buffers.forEach((b, i) => (key += `|${this.bufferId(b)}:${(storages[i] as GpuStorage).bytes}`))
    if (uniformBytes) key += `|u${uniformBytes}`
    const hit = this.bindGroups.get(key)
    if (hit) return hit
    const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({binding, resource: {buffer, size: (storages[binding] as GpuStorage).bytes}}))
    if (uniformBytes) entries.push({binding: entries.length, resource: {buffer: this.ring.buffer, offset: 0, size: uniformBytes}})
    const made = this.guard(`kernel ${name}`, () => this.device.createBindGroup({layout: cached.layout, entries, label: name}))
    if (this.bindGroups.size >= MAX_BIND_GROUPS) this.bindGroups.clear()
    this.bindGroups.set(key, made)
    return made
  }

  private bufferId(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer)
    if (id === undefined) this.bufferIds.set(buffer, (id = this.nextBufferId++))
    return id
  }

  /** The bind group layout of the binding convention in kernels/kernel.ts. */
  private layout(nIn: number, nOut: number, hasUniforms: boolean): CachedLayout {
    const key = `${nIn},${nOut},${hasUniforms}`
    const hit = this.layouts.get(key)
    if (hit) return hit
    const compute = 0x4 // GPUShaderStage.COMPUTE
    const entries: GPUBindGroupLayoutEntry[] = []
    for (let i = 0; i < nIn; i++) entries.push({binding: i, visibility: compute, buffer: {type: 'read-only-storage'}})
    for (let i = 0; i < nOut; i++) entries.push({binding: nIn + i, visibility: compute, buffer: {type: 'storage'}})
    if (hasUniforms) entries.push({binding: nIn + nOut, visibility: compute, buffer: {type: 'uniform', hasDynamicOffset: true}})
    const bindGroup = this.guard(`bind group layout ${key}`, () => this.device.createBindGroupLayout({entries}))
    const pipeline = this.guard(`pipeline layout ${key}`, () => this.device.createPipelineLayout({bindGroupLayouts: [bindGroup]}))
    const made = {bindGroup, pipeline, key}
    this.layouts.set(key, made)
    return made
  }

  /**
   * Run one Dawn create call inside error scopes (validation, and out-of-memory for buffers);
   * an error it raises is thrown, named after `what`, at the next read or sync.
   */
  private guard<T>(what: string, create: () => T, filters: GPUErrorFilter[] = ['validation']): T {
    for (const f of filters) this.device.pushErrorScope(f)
    try {
      return create()
    } finally {
      const popped = filters.map(() => this.device.popErrorScope())
      this.pendingErrors.push(
        Promise.all(popped).then((errors) => {
          const error = errors.find((e) => e !== null)
          return error ? new Error(`webgpu ${what}: ${error.message.trim()}`) : undefined
        }),
      )
      // A loop that never reads would otherwise pile these up: fold them into one, first error first.
      if (this.pendingErrors.length > 1024) {
        const pending = this.pendingErrors
        this.pendingErrors = [Promise.all(pending).then((errors) => errors.find((e) => e !== undefined))]
      }
    }
  }

  private async throwPendingErrors(): Promise<void> {
    const pending = this.pendingErrors
    this.pendingErrors = []
    const first = (await Promise.all(pending)).find((e) => e !== undefined)
    if (first) throw first
    if (this.lost) throw new HybridizeError(`the WebGPU device was lost: ${this.lost}`)
  }

  private commandEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder()
    return this.encoder
  }

  private computePass(): GPUComputePassEncoder {
    this.pass ??= this.commandEncoder().beginComputePass()
    return this.pass
  }

  /** A pass of its own for one dispatch, timestamped where it begins and ends (profiling). */
  private timedPass(timestampWrites: GPUComputePassTimestampWrites): GPUComputePassEncoder {
    this.endPass()
    this.pass = this.commandEncoder().beginComputePass({timestampWrites})
    return this.pass
  }

  private endPass(): void {
    this.pass?.end()
    this.pass = undefined
  }

  /** Submit everything encoded so far, without waiting for it. */
  private flush(): void {
    if (!this.encoder) return
    this.endPass()
    this.ring.upload(this.device.queue)
    const encoder = this.encoder
    this.stamps?.resolve(encoder)
    this.guard('submit', () => this.device.queue.submit([encoder.finish()]))
    this.stamps?.submitted()
    this.profiler?.submit()
    this.encoder = undefined
    this.batched = 0
    this.submits++
  }

  private bufferOf(storage: Storage): GPUBuffer {
    const buffer = (storage as GpuStorage).buffer
    if (!buffer) throw new Error('webgpu: storage used after free()')
    return buffer
  }

  private assertAlive(): void {
    if (this.lost) throw new HybridizeError(`the WebGPU device was lost: ${this.lost}`)
  }
}

/** Half values followed by one zero half, so the bytes fill whole 32-bit words. */
function padToWord(data: Uint16Array): Uint16Array {
  const padded = new Uint16Array(data.length + 1)
  padded.set(data)
  return padded
}
