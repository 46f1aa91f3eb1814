import {basename, resolve} from 'node:path'
import {HybridizeError} from '../errors.js'
import {cachedSnapshotOf, weightsSha256, type TeacherIdentity} from '../hub/model-identity.js'
import {parseRepoRef} from '../hub/repo-ref.js'
import type {HeadsFile} from './heads-file.js'

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
    same = resolve(named) === teacher.folder || (!cachedSnapshotOf(teacher.folder) && basename(resolve(named)) === basename(teacher.folder))
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
