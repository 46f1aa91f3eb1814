/** GPUBufferUsage / GPUMapMode values: Node has no such globals unless Dawn's are installed. */
export const BufferUsage = {MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80} as const
export const MAP_MODE_READ = 0x1

/**
 * Reuse of GPU memory. Creating and first binding a buffer is expensive in WebGPU, and a training
 * step allocates the same activation sizes over and over, so freed buffers wait in per-size-class
 * free lists instead of being destroyed.
 */

/**
 * Byte sizes rounded up to one of four steps per power of two (1, 1.25, 1.5, 1.75 × 2^k), so at
 * most a fifth of a buffer is slack while nearby sizes still share a class. Minimum 16 bytes.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 16) return 16
  const pow = 2 ** Math.floor(Math.log2(bytes))
  const step = pow / 4
  return Math.ceil(bytes / step) * step
}

/** Free lists of buffers of one usage, keyed by size class. */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>()
  /** Bytes held by buffers that are out in use plus those waiting in the free lists. */
  allocatedBytes = 0

  constructor(private readonly create: (descriptor: GPUBufferDescriptor) => GPUBuffer, private readonly usage: GPUBufferUsageFlags, private readonly label: string) {}

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes)
    const reused = this.free.get(size)?.pop()
    if (reused) return reused
    this.allocatedBytes += size
    return this.create({size, usage: this.usage, label: `${this.label} ${size}`})
  }

  release(buffer: GPUBuffer): void {
    const list = this.free.get(buffer.size)
    if (list) list.push(buffer)
    else this.free.set(buffer.size, [buffer])
  }

  /** Destroy the buffers waiting in the free lists (not those still in use). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.allocatedBytes -= b.size
        b.destroy()
      }
    }
    this.free.clear()
  }
}

/**
 * Uniforms of every dispatch in one batch, packed into a single buffer: each dispatch gets its own
 * aligned slot, bound with a dynamic offset, and the host copy is uploaded with one writeBuffer just
 * before the batch is submitted. Against a pooled buffer per dispatch this saves a buffer and a
 * write per dispatch, and since the bind group no longer depends on where the uniforms sit, bind
 * groups can be cached. Reusing the ring for the next batch is safe: queue writes and submits
 * execute in order.
 */
export class UniformRing {
  readonly buffer: GPUBuffer
  private readonly host: Uint32Array
  private cursor = 0

  constructor(device: GPUDevice, readonly capacity: number, private readonly alignment: number) {
    this.buffer = device.createBuffer({size: capacity, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST, label: 'uniform ring'})
    this.host = new Uint32Array(capacity / 4)
  }

  /** Bytes a slot for `words` uniform words takes (padded to 16 bytes, then to the offset alignment). */
  slotBytes(words: number): number {
    const padded = Math.ceil((words * 4) / 16) * 16
    return Math.ceil(padded / this.alignment) * this.alignment
  }

  fits(words: number): boolean {
    return this.cursor + this.slotBytes(words) <= this.capacity
  }

  /** Copy `words` into the next slot; returns its byte offset and bound size. */
  push(words: Uint32Array): {offset: number; size: number} {
    const offset = this.cursor
    const size = Math.ceil((words.length * 4) / 16) * 16
    this.host.fill(0, offset / 4, (offset + size) / 4)
    this.host.set(words, offset / 4)
    this.cursor += this.slotBytes(words.length)
    return {offset, size}
  }

  /** Upload the slots filled since the last upload and start over. */
  upload(queue: GPUQueue): void {
    if (this.cursor === 0) return
    queue.writeBuffer(this.buffer, 0, this.host, 0, this.cursor / 4)
    this.cursor = 0
  }
}

