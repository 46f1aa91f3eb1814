import type {Backend, Storage} from '../backend/backend.js'
import type {DType, HalfDType, HostArray} from '../kernels/kernel.js'
import {ShapeError} from '../errors.js'
import {fill} from '../kernels/fill.js'

/**
 * A contiguous, row-major tensor living in one backend. Reshape is a free view over the same
 * storage; every other op makes a new tensor. Storage is reference counted so views, scopes and
 * the autograd tape can each hold a tensor without freeing it under the others.
 */
export class Tensor {
  readonly numel: number
  /** Set by the autograd tape when this tensor's gradient is wanted. */
  requiresGrad = false
  private disposed = false

  constructor(readonly backend: Backend, readonly storage: Storage, readonly shape: readonly number[]) {
    this.numel = numelOf(shape)
    if (this.numel !== storage.numel) throw new ShapeError(`shape [${shape}] does not hold ${storage.numel} elements`)
    retain(storage)
    currentScope()?.push(this)
  }

  get dtype(): DType {
    return this.storage.dtype
  }

  get rank(): number {
    return this.shape.length
  }

  /** A view with another shape over the same elements; one dimension may be -1. A view of a parameter is trainable too. */
  reshape(shape: readonly number[]): Tensor {
    const view = new Tensor(this.backend, this.storage, resolveShape(shape, this.numel))
    view.requiresGrad = this.requiresGrad
    return view
  }

  async toArray(): Promise<HostArray> {
    this.assertLive()
    return this.backend.read(this.storage)
  }

  async toFloat32(): Promise<Float32Array> {
    const data = await this.toArray()
    return data instanceof Float32Array ? data : Float32Array.from(data)
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    release(this.backend, this.storage)
  }

  get isDisposed(): boolean {
    return this.disposed
  }

  assertLive(): void {
    if (this.disposed) throw new Error(`tensor [${this.shape}] was used after dispose()`)
  }

  toString(): string {
    return `Tensor(${this.dtype}[${this.shape.join(', ')}] on ${this.backend.name})`
  }
}

export function numelOf(shape: readonly number[]): number {
  let n = 1
  for (const d of shape) n *= d
  return n
}

function resolveShape(shape: readonly number[], numel: number): number[] {
  const known = shape.filter((d) => d !== -1)
  const free = shape.length - known.length
  if (free > 1) throw new ShapeError(`reshape [${shape}]: at most one -1`)
  const product = numelOf(known)
  if (free === 1) {
    if (product === 0 || numel % product !== 0) throw new ShapeError(`cannot reshape ${numel} elements to [${shape}]`)
    return shape.map((d) => (d === -1 ? numel / product : d))
  }
  if (product !== numel) throw new ShapeError(`cannot reshape ${numel} elements to [${shape}]`)
  return [...shape]
}

// ---- reference counts and scopes ---------------------------------------------------------

const refCounts = new WeakMap<Storage, number>()
/** What to do when a storage is freed (one hook each): a cache of copies made from it drops its copy. */
const releaseHooks = new WeakMap<Storage, () => void>()

/** Run `hook` once `storage` is freed, its last tensor disposed (a later call replaces an earlier hook). */
export function onRelease(storage: Storage, hook: () => void): void {
  releaseHooks.set(storage, hook)
}

function retain(storage: Storage): void {
  refCounts.set(storage, (refCounts.get(storage) ?? 0) + 1)
}

function release(backend: Backend, storage: Storage): void {
  const n = (refCounts.get(storage) ?? 1) - 1
  if (n <= 0) {
    refCounts.delete(storage)
    backend.free(storage)
    const hook = releaseHooks.get(storage)
    releaseHooks.delete(storage)
    hook?.()
  } else {
    refCounts.set(storage, n)
  }
}

const scopes: Tensor[][] = []

function currentScope(): Tensor[] | undefined {
  return scopes.at(-1)
}

/**
 * Run `fn` and dispose every tensor it created, except the tensors found in its result
 * (a tensor, or arrays / plain objects of them). Keeps GPU memory flat inside loops.
 */
export function scope<T>(fn: () => T): T {
  scopes.push([])
  const mine = scopes.length - 1
  let result: T
  try {
    result = fn()
  } catch (err) {
    closeScope(mine, undefined)
    throw err
  }
  closeScope(mine, result)
  return result
}

/** Same as `scope`, for async functions (awaiting reads inside). */
export async function scopeAsync<T>(fn: () => Promise<T>): Promise<T> {
  scopes.push([])
  const mine = scopes.length - 1
  let result: T
  try {
    result = await fn()
  } catch (err) {
    closeScope(mine, undefined)
    throw err
  }
  closeScope(mine, result)
  return result
}

/** Dispose what scope `index` created, handing the tensors in `result` to the enclosing scope. */
function closeScope(index: number, result: unknown): void {
  const created = scopes.splice(index)[0]
  const kept = new Set<Tensor>()
  collectTensors(result, kept)
  for (const t of created) {
    if (kept.has(t)) currentScope()?.push(t)
    else t.dispose()
  }
}

/** Keep a tensor alive past the scope it was made in (the caller disposes it). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) {
    const i = s.indexOf(t)
    if (i >= 0) s.splice(i, 1)
  }
  return t
}

function collectTensors(value: unknown, into: Set<Tensor>): void {
  if (value instanceof Tensor) into.add(value)
  else if (Array.isArray(value)) for (const v of value) collectTensors(v, into)
  else if (value instanceof Map) for (const v of value.values()) collectTensors(v, into)
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, into)
  }
}

// ---- creation --------------------------------------------------------------------------

/** A tensor holding `data`; a Uint16Array holds half-precision patterns of `half` (default bf16). */
export function fromArray(backend: Backend, data: HostArray, shape: readonly number[], half: HalfDType = 'bf16'): Tensor {
  if (data.length !== numelOf(shape)) throw new ShapeError(`${data.length} values do not fill shape [${shape}]`)
  const storage = backend.alloc(data.length, data instanceof Int32Array ? 'i32' : data instanceof Uint16Array ? half : 'f32')
  backend.write(storage, data)
  return new Tensor(backend, storage, shape)
}

export function empty(backend: Backend, shape: readonly number[], dtype: DType = 'f32'): Tensor {
  return new Tensor(backend, backend.alloc(numelOf(shape), dtype), shape)
}

/** Filled on the device: a decode cache's SSM state for a large batch is gigabytes, which a host array would upload. */
export function zeros(backend: Backend, shape: readonly number[]): Tensor {
  const t = empty(backend, shape)
  backend.run(fill, {n: t.numel, value: 0}, [], [t.storage])
  return t
}
