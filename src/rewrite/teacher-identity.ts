import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {readdir} from 'node:fs/promises'
import {basename, join, resolve, sep} from 'node:path'
import {HybridizeError} from '../errors.js'
import {COMMIT_HASH, parseRepoRef} from '../hub/repo-ref.js'
import type {HeadsFile} from './heads-file.js'

/** Which teacher a rewrite starts from: a hub id and commit when it came from the HF cache, else its folder. */
export interface TeacherIdentity {
  id: string
  revision?: string
  folder: string
}

/** `.../models--org--name/snapshots/<commit>` -> {id: org/name, revision: commit}. */
function fromCacheFolder(folder: string): {id: string; revision: string} | undefined {
  const parts = resolve(folder).split(sep)
  const n = parts.length
  if (n < 3 || parts[n - 2] !== 'snapshots' || !COMMIT_HASH.test(parts[n - 1]) || !parts[n - 3].startsWith('models--')) return undefined
  const repo = parts[n - 3].slice('models--'.length).split('--').join('/')
  return {id: repo, revision: parts[n - 1]}
}

export function identifyTeacher(folder: string): TeacherIdentity {
  const cached = fromCacheFolder(folder)
  return cached ? {...cached, folder: resolve(folder)} : {id: resolve(folder), folder: resolve(folder)}
}

/** SHA-256 over a folder's .safetensors files, in name order: find-heads' `weights_sha256`. */
export async function weightsSha256(folder: string): Promise<string> {
  const hash = createHash('sha256')
  for (const f of (await readdir(folder)).filter((name) => name.endsWith('.safetensors')).sort()) {
    for await (const chunk of createReadStream(join(folder, f))) hash.update(chunk as Buffer)
  }
  return hash.digest('hex')
}

/**
 * Refuse a heads.json made for another model. When it records the weights' digest, that decides;
 * otherwise its model must be the teacher's hub id (same revision when both give one), or a folder
 * that is the teacher's folder (the same path, or the same last component when it was written
 * relative to another directory). Its layer and head counts, when given, must be the teacher's.
 */
export async function checkHeadsMatchTeacher(heads: HeadsFile, teacher: TeacherIdentity, shape: {layers: number; heads: number}): Promise<void> {
  const named = heads.model.id
  const hub = parseRepoRef(named)
  let same: boolean
  if (heads.model.weightsSha256) {
    same = heads.model.weightsSha256 === (await weightsSha256(teacher.folder))
  } else if (hub && !named.startsWith('.') && teacher.id === hub.repo) {
    same = !hub.revision || !teacher.revision || hub.revision === teacher.revision
    if (same && heads.model.revision && teacher.revision) same = heads.model.revision === teacher.revision
  } else {
    same = resolve(named) === teacher.folder || (!fromCacheFolder(teacher.folder) && basename(resolve(named)) === basename(teacher.folder))
  }
  if (!same) {
    const at = teacher.revision ? `@${teacher.revision.slice(0, 12)}` : ''
    const digest = heads.model.weightsSha256 ? ` (its weights differ from the teacher's)` : ''
    throw new HybridizeError(`${heads.path} was made for model '${named}'${digest}, not for the teacher ${teacher.id}${at}`, {code: 'E_HEADS_MODEL'})
  }
  const {layers, heads: perLayer} = heads.model
  if ((layers !== undefined && layers !== shape.layers) || (perLayer !== undefined && perLayer !== shape.heads)) {
    throw new HybridizeError(`${heads.path} describes ${layers ?? '?'} layers x ${perLayer ?? '?'} heads, but the teacher has ${shape.layers} x ${shape.heads}`, {code: 'E_HEADS_MODEL'})
  }
}
