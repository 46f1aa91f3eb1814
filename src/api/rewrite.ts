import {resolveModel} from '../hub/cache.js'
import {rewrite as rewriteTeacher, type RewriteResult} from '../rewrite/rewrite.js'
import type {HeadChoice} from '../rewrite/select-heads.js'
import type {MixerChoice} from '../rewrite/student-config.js'
import type {SsmInit} from '../rewrite/init-weights.js'

/** `hybridize rewrite` from code: a teacher reference and a heads.json in, a hybrid model folder out. */
export interface RewriteOptions {
  /** The teacher: a model folder or org/name[@revision] in the Hugging Face cache. */
  teacher: string
  /** heads.json written by find-heads for this teacher. */
  heads: string
  /** The hybrid's folder (written atomically). */
  out: string
  /** Which heads stay attention (default: those heads.json selected). */
  choice?: HeadChoice
  /** The SSM mixer (default: discrete-mamba2 with the teacher's head dim as state size). */
  mixer?: MixerChoice
  /** Where the SSM mixers start (default: from the attention weights). */
  init?: SsmInit
  /** Replace `out` if it exists. */
  force?: boolean
  maxShardBytes?: number
  /** The command line provenance.json records. */
  command?: string
  status?: (text: string) => void
}

export async function rewrite(options: RewriteOptions): Promise<RewriteResult> {
  const teacherFolder = await resolveModel(options.teacher)
  options.status?.(`teacher: ${teacherFolder}`)
  return rewriteTeacher({
    teacherFolder,
    headsPath: options.heads,
    choice: options.choice ?? {kind: 'selected'},
    mixer: options.mixer ?? {kind: 'discrete-mamba2'},
    init: options.init,
    out: options.out,
    overwrite: options.force,
    maxShardBytes: options.maxShardBytes,
    command: options.command ?? 'hybridize rewrite (library)',
  })
}
