/**
 * What the CPU backend's WebAssembly kernels (cpu-matmul/, cpu-attention/) share: the few
 * WebAssembly APIs they call, typed here because TypeScript types them only in lib "dom", which we
 * do not load; and growing a module's imported memory to fit a problem.
 */
export interface WasmMemory<Bytes extends ArrayBufferLike = ArrayBufferLike> {
  readonly buffer: Bytes
  grow(pages: number): number
}

interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object
  Memory: new (descriptor: {initial: number; maximum: number; shared?: boolean}) => WasmMemory
  Instance: new (module: object, imports: {env: {memory: WasmMemory}}) => {exports: Record<string, unknown>}
}

export const webAssembly = (globalThis as unknown as {WebAssembly: WebAssemblyApi}).WebAssembly

const PAGE_BYTES = 65536
/** The kernels import a memory of at most 65536 pages (4 GiB, all a wasm32 address reaches). */
export const MAX_PAGES = 65536

/** A view of `memory` holding at least `floats` floats; grows it (never shrinks; growing detaches older views). */
export function floatView<Bytes extends ArrayBufferLike>(memory: WasmMemory<Bytes>, floats: number): Float32Array {
  const missing = Math.ceil((floats * 4) / PAGE_BYTES) - memory.buffer.byteLength / PAGE_BYTES
  if (missing > 0) memory.grow(missing)
  return new Float32Array(memory.buffer)
}
