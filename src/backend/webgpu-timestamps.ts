import type {Launch, Profiler} from './profile.js'
import {BufferPool, BufferUsage, MAP_MODE_READ} from './webgpu-pools.js'

/** GPUBufferUsage.QUERY_RESOLVE. */
const QUERY_RESOLVE = 0x200

/**
 * GPU time per dispatch for the profiler (profile.ts). Core WebGPU writes timestamps only where a
 * pass begins and ends, so while profiling each dispatch gets a compute pass of its own. Before each
 * submit the batch's timestamps are resolved and copied into a mappable buffer, which is mapped
 * once the submit is made and read at the backend's next read or sync (`collect`), so profiling
 * adds no wait of its own. Dispatches whose timestamps never come back (a lost device, the end of
 * the backend before a read) stay untimed, and the profile counts them.
 */
export class DispatchTimestamps {
  private readonly querySet: GPUQuerySet
  private readonly resolved: GPUBuffer
  private readonly readbacks: BufferPool
  private launches: Launch[] = []
  private toMap: {readback: GPUBuffer; launches: Launch[]} | undefined
  private pending: Promise<void>[] = []

  /** `capacity`: the most dispatches one submit holds. */
  constructor(device: GPUDevice, private readonly profiler: Profiler, capacity: number) {
    this.querySet = device.createQuerySet({type: 'timestamp', count: 2 * capacity})
    this.resolved = device.createBuffer({size: 16 * capacity, usage: QUERY_RESOLVE | BufferUsage.COPY_SRC, label: 'timestamps resolved'})
    this.readbacks = new BufferPool((d) => device.createBuffer(d), BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'timestamps')
  }

  /** The timestamp writes of the pass that holds `launch` alone. */
  passFor(launch: Launch): GPUComputePassTimestampWrites {
    const i = this.launches.length
    this.launches.push(launch)
    return {querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1}
  }

  /** Before a submit, its passes ended: resolve the batch's timestamps into a buffer to map after it. */
  resolve(encoder: GPUCommandEncoder): void {
    const launches = this.launches
    if (launches.length === 0) return
    this.launches = []
    const bytes = 16 * launches.length
    encoder.resolveQuerySet(this.querySet, 0, 2 * launches.length, this.resolved, 0)
    const readback = this.readbacks.acquire(bytes)
    encoder.copyBufferToBuffer(this.resolved, 0, readback, 0, bytes)
    this.toMap = {readback, launches}
  }

  /** After the submit: map the batch's timestamps (a buffer cannot be mapped while a submit uses it). */
  submitted(): void {
    if (!this.toMap) return
    const {readback, launches} = this.toMap
    this.toMap = undefined
    this.pending.push(this.read(readback, launches))
  }

  /** Add the timestamps mapped so far to the profile (the backend's own waits have let them land). */
  async collect(): Promise<void> {
    const pending = this.pending
    this.pending = []
    await Promise.all(pending)
  }

  private async read(readback: GPUBuffer, launches: Launch[]): Promise<void> {
    const bytes = 16 * launches.length
    try {
      await readback.mapAsync(MAP_MODE_READ, 0, bytes)
    } catch {
      return // the device is gone: these dispatches stay untimed
    }
    const stamps = new BigUint64Array(readback.getMappedRange(0, bytes).slice(0))
    readback.unmap()
    this.readbacks.release(readback)
    launches.forEach((launch, i) => {
      const [start, end] = [stamps[2 * i], stamps[2 * i + 1]]
      // A pair out of order (a clock that moved between them) is no measurement.
      if (end >= start) this.profiler.time(launch, Number(end - start))
    })
  }
}
