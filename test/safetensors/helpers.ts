import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

const made: string[] = []

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hybridize-st-'))
  made.push(dir)
  return dir
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((dir) => rm(dir, {recursive: true, force: true})))
}

/** A safetensors file from an arbitrary header (an object, JSON text or raw bytes) and data section. */
export function rawSafetensors(header: unknown, data: Uint8Array | number = 0): Uint8Array {
  const json = header instanceof Uint8Array ? header
    : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header))
  const bytes = typeof data === 'number' ? new Uint8Array(data) : data
  const out = new Uint8Array(8 + json.byteLength + bytes.byteLength)
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true)
  out.set(json, 8)
  out.set(bytes, 8 + json.byteLength)
  return out
}
