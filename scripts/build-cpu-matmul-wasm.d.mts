/** The text of gemm-wasm.ts for the current gemm.wat (the test checks the committed file against it). */
export function compileGemmModule(): Promise<string>
