import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {readdir} from 'node:fs/promises'
import {join, resolve, sep} from 'node:path'
import {COMMIT_HASH} from './repo-ref.js'

/**
 * Which model a folder holds, the one place that says so: the hub repo and commit when the folder
 * is a snapshot of the HF cache (`.../models--org--name/snapshots/<commit>`), and the digest of its
 * weights. heads.json, a rewrite's provenance and eval's results record these.
 */
export function cachedSnapshotOf(folder: string): {repo: string; revision: string} | undefined {
  const parts = resolve(folder).split(sep)
  const n = parts.length
  if (n < 3 || parts[n - 2] !== 'snapshots' || !COMMIT_HASH.test(parts[n - 1]) || !parts[n - 3].startsWith('models--')) return undefined
  return {repo: parts[n - 3].slice('models--'.length).split('--').join('/'), revision: parts[n - 1]}
}

/** A model as heads.json records it. */
export interface ModelIdentity {
  /** As the user named it: a folder or org/name[@revision]. */
  id: string
  /** The Hugging Face snapshot commit, when the folder is one. */
  revision: string | null
  /** SHA-256 over the weight files' bytes, in name order. */
  weightsSha256: string
}

export async function identifyModel(name: string, folder: string): Promise<ModelIdentity> {
  return {id: name, revision: cachedSnapshotOf(folder)?.revision ?? null, weightsSha256: await weightsSha256(folder)}
}

/** Which teacher a rewrite or distillation starts from: a hub id and commit when it came from the HF cache, else its folder. */
export interface TeacherIdentity {
  id: string
  revision?: string
  folder: string
}

export function identifyTeacher(folder: string): TeacherIdentity {
  const cached = cachedSnapshotOf(folder)
  return cached ? {id: cached.repo, revision: cached.revision, folder: resolve(folder)} : {id: resolve(folder), folder: resolve(folder)}
}

/** SHA-256 over a folder's .safetensors files' bytes, in name order: heads.json's `weights_sha256`. */
export async function weightsSha256(folder: string): Promise<string> {
  const hash = createHash('sha256')
  for (const f of (await readdir(folder)).filter((name) => name.endsWith('.safetensors')).sort()) {
    for await (const chunk of createReadStream(join(folder, f))) hash.update(chunk as Buffer)
  }
  return hash.digest('hex')
}
