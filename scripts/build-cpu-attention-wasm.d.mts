/** The text of attention-wasm.ts for the current attention.wat (the test checks the committed file against it). */
export function compileAttentionModule(): Promise<string>
