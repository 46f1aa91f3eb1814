import {floatView, MAX_PAGES, webAssembly, type WasmMemory} from '../wasm-runtime.js'
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

export interface WasmAttention {
  memory: WasmMemory
  attend(...args: AttendArgs): void
}

let loaded: WasmAttention | undefined

/** The process-wide attention kernel and its memory. */
export function wasmAttention(): WasmAttention {
  if (!loaded) {
    const module = new webAssembly.Module(Buffer.from(attentionWasmBase64, 'base64'))
    const memory = new webAssembly.Memory({initial: 1, maximum: MAX_PAGES})
    const instance = new webAssembly.Instance(module, {env: {memory}})
    loaded = {memory, attend: instance.exports.attend as WasmAttention['attend']}
  }
  return loaded
}

/** A view of the kernel's memory holding at least `floats` floats; grows it (never shrinks, and growing detaches older views). */
export function attentionHeap(floats: number): Float32Array {
  return floatView(wasmAttention().memory, floats)
}
