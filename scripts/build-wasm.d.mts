export type WasmKernel = 'gemm' | 'attention'
/** Where a kernel's compiled module (gemm-wasm.ts, attention-wasm.ts) lives. */
export function wasmModulePath(name: WasmKernel): string
/** The text of a kernel's compiled module for its current .wat (the tests check the committed file against it). */
export function compileWasmModule(name: WasmKernel): Promise<string>
