import {readdir} from 'node:fs/promises'
import {join, resolve, sep} from 'node:path'
import {Worker} from 'node:worker_threads'
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

export async function identifyModel(name: string, folder: string, signal?: AbortSignal): Promise<ModelIdentity> {
  return {id: name, revision: cachedSnapshotOf(folder)?.revision ?? null, weightsSha256: await weightsSha256(folder, signal)}
}

/**
 * `identifyModel` while `load` reads the same weights: the digest runs on a worker thread, so a 1B
 * teacher's seconds of hashing overlap its seconds of loading instead of preceding them. If `load`
 * fails, the digest is stopped and `load`'s error is thrown.
 */
export async function identifyWhile<T>(name: string, folder: string, load: () => Promise<T>): Promise<[ModelIdentity, T]> {
  const stop = new AbortController()
  const identity = identifyModel(name, folder, stop.signal)
  try {
    const loaded = await load()
    return [await identity, loaded]
  } catch (err) {
    stop.abort()
    await identity.catch(() => undefined)
    throw err
  }
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

// The digest's thread (CommonJS, as `eval` workers are): reads each file in 8 MiB pieces into one hash.
const DIGEST_WORKER = `
const {createHash} = require('node:crypto')
const {closeSync, openSync, readSync} = require('node:fs')
const {parentPort, workerData} = require('node:worker_threads')
const hash = createHash('sha256')
const piece = Buffer.allocUnsafe(8 << 20)
for (const file of workerData) {
  const fd = openSync(file, 'r')
  try {
    for (let n; (n = readSync(fd, piece, 0, piece.length, null)) > 0;) hash.update(piece.subarray(0, n))
  } finally {
    closeSync(fd)
  }
}
parentPort.postMessage(hash.digest('hex'))
`

/**
 * SHA-256 over a folder's .safetensors files' bytes, in name order: heads.json's `weights_sha256`.
 * Hashed on a worker thread, which `signal` stops.
 */
export async function weightsSha256(folder: string, signal?: AbortSignal): Promise<string> {
  const files = (await readdir(folder)).filter((name) => name.endsWith('.safetensors')).sort().map((f) => join(folder, f))
  signal?.throwIfAborted()
  return new Promise<string>((done, fail) => {
    const worker = new Worker(DIGEST_WORKER, {eval: true, workerData: files})
    const abort = () => void worker.terminate()
    signal?.addEventListener('abort', abort, {once: true})
    worker.once('message', (hex: string) => done(hex))
    worker.once('error', fail)
    worker.once('exit', (code) => {
      signal?.removeEventListener('abort', abort)
      // After 'message' or 'error' this settles nothing; otherwise the worker was stopped.
      fail(signal?.aborted ? signal.reason : new Error(`hashing the weights of ${folder} stopped (exit code ${code})`))
    })
  })
}
