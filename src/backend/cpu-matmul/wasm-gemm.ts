import {floatView, MAX_PAGES, webAssembly, type WasmMemory} from '../wasm-runtime.js'
import {gemmWasmBase64} from './gemm-wasm.js'

/**
 * gemm.wat's `gemm` arguments, in order: byte offsets of packed A, packed B and C; batch count and
 * byte strides; padded panel counts mPanels, nPanels; k and the K block; panel ranges [i0, i1), [j0, j1).
 */
export type GemmArgs = [
  a: number, b: number, c: number,
  batch: number, aStride: number, bStride: number, cStride: number,
  mPanels: number, nPanels: number, k: number, kcBlock: number,
  i0: number, i1: number, j0: number, j1: number,
]
export const GEMM_ARG_COUNT = 15

export interface WasmGemm {
  /** Compiled once; each worker instantiates it again over the same shared memory. */
  module: object
  memory: WasmMemory<SharedArrayBuffer>
  run(...args: GemmArgs): void
}

let loaded: WasmGemm | undefined

/** The process-wide GEMM module, its shared memory and the main thread's instance. */
export function wasmGemm(): WasmGemm {
  if (!loaded) {
    const module = new webAssembly.Module(Buffer.from(gemmWasmBase64, 'base64'))
    const memory = new webAssembly.Memory({initial: 1, maximum: MAX_PAGES, shared: true}) as WasmMemory<SharedArrayBuffer>
    const instance = new webAssembly.Instance(module, {env: {memory}})
    loaded = {module, memory, run: instance.exports.gemm as WasmGemm['run']}
  }
  return loaded
}

/** A view of the shared memory holding at least `floats` floats; grows it (never shrinks). */
export function heapFloats(floats: number): Float32Array {
  return floatView(wasmGemm().memory, floats)
}

/** Cut one gemm call into up to `threads` calls over disjoint batch entries, row panels or column panels. */
export function splitGemm(whole: GemmArgs, threads: number): GemmArgs[] {
  const [, , , batch, aStride, bStride, cStride, mPanels, nPanels] = whole
  const parts = (count: number): [number, number][] => {
    const used = Math.min(threads, count)
    return Array.from({length: used}, (_, t) => [Math.floor((t * count) / used), Math.floor(((t + 1) * count) / used)])
  }
  if (batch >= threads) {
    return parts(batch).map(([s, e]) => {
      const job = [...whole] as GemmArgs
      job[0] += s * aStride
      job[1] += s * bStride
      job[2] += s * cStride
      job[3] = e - s
      return job
    })
  }
  const byRows = mPanels > nPanels
  return parts(byRows ? mPanels : nPanels).map(([s, e]) => {
    const job = [...whole] as GemmArgs
    if (byRows) [job[11], job[12]] = [s, e]
    else [job[13], job[14]] = [s, e]
    return job
  })
}
