import {attentionWasmBase64} from './attention-wasm.js'

/**
 * attention.wat's `attend` arguments, in order: byte offsets of q, k, v, out, mask, probs; whether
 * to write probs; the byte offset of this call's scratch row; tq, tk, hq, hkv, d; the score scale;
 * the unit range [u0, u1) over batch * hq.
 */
export type AttendArgs = [
  q: number, k: number, v: number, out: number, mask: number, probs: number, withProbs: number, scratch: number,
  tq: number, tk: number, hq: number, hkv: number, d: number, scale: number,
  u0: number, u1: number,
]

const PAGE_BYTES = 65536
/** attention.wat imports a memory of at most 65536 pages (4 GiB, all a wasm32 address reaches). */
const MAX_PAGES = 65536

/** The few WebAssembly APIs used here; TypeScript only types them in lib "dom", which we do not load. */
interface Memory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object
  Memory: new (descriptor: {initial: number; maximum: number}) => Memory
  Instance: new (module: object, imports: {env: {memory: Memory}}) => {exports: Record<string, unknown>}
}
const wasm = (globalThis as unknown as {WebAssembly: WebAssemblyApi}).WebAssembly

export interface WasmAttention {
  memory: Memory
  attend(...args: AttendArgs): void
}

let loaded: WasmAttention | undefined

/** The process-wide attention kernel and its memory. */
export function wasmAttention(): WasmAttention {
  if (!loaded) {
    const module = new wasm.Module(Buffer.from(attentionWasmBase64, 'base64'))
    const memory = new wasm.Memory({initial: 1, maximum: MAX_PAGES})
    const instance = new wasm.Instance(module, {env: {memory}})
    loaded = {memory, attend: instance.exports.attend as WasmAttention['attend']}
  }
  return loaded
}

/** A view of the kernel's memory holding at least `floats` floats; grows it (never shrinks, and growing detaches older views). */
export function attentionHeap(floats: number): Float32Array {
  const {memory} = wasmAttention()
  const missing = Math.ceil((floats * 4) / PAGE_BYTES) - memory.buffer.byteLength / PAGE_BYTES
  if (missing > 0) memory.grow(missing)
  return new Float32Array(memory.buffer)
}
