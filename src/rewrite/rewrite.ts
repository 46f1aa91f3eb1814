import {createHash} from 'node:crypto'
import {copyFile, readFile, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {withAtomicFolder} from '../io/atomic.js'
import {openCheckpoint, type Checkpoint} from '../io/safetensors/checkpoint.js'
import type {Dtype} from '../io/safetensors/dtypes.js'
import {DEFAULT_MAX_SHARD_BYTES, writeCheckpoint} from '../io/safetensors/writer.js'
import {parseTeacherConfig} from '../models/config.js'
import {hybridConfigToJson, mixerToJson, type HybridConfig} from '../models/hybrid-config.js'
import {checkTeacherWeights, readConfigJson} from '../models/load.js'
import {readHeadsFile, type HeadId} from './heads-file.js'
import {modelCard} from './model-card.js'
import {chooseHeads, layoutFor, type HeadChoice} from './select-heads.js'
import {studentMixerConfig, type MixerChoice} from './student-config.js'
import {identifyTeacher, type TeacherIdentity} from '../hub/model-identity.js'
import {checkHeadsMatchTeacher} from './heads-match.js'
import {studentTensors, type SsmInit} from './init-weights.js'

/**
 * `hybridize rewrite`: a teacher and a heads.json in, a hybrid checkpoint folder out (config.json,
 * safetensors, the tokenizer files, provenance.json, README.md), built in a temporary folder and
 * renamed into place only when complete.
 */
export interface RewriteRequest {
  teacherFolder: string
  headsPath: string
  choice: HeadChoice
  mixer: MixerChoice
  /** Where the SSM mixers start (default: from the attention weights). */
  init?: SsmInit
  out: string
  overwrite?: boolean
  maxShardBytes?: number
  /** The command line, for provenance.json. */
  command: string
}

export interface RewriteResult {
  out: string
  files: string[]
  keptHeads: HeadId[]
  totalHeads: number
  dtype: Dtype
  config: HybridConfig
}

/** Files besides the weights that make a model folder usable, copied when the teacher has them. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model', 'vocab.json', 'merges.txt', 'added_tokens.json', 'chat_template.jinja', 'generation_config.json']

export async function rewrite(req: RewriteRequest): Promise<RewriteResult> {
  const teacherJson = await readConfigJson(req.teacherFolder)
  const teacher = parseTeacherConfig(teacherJson, join(req.teacherFolder, 'config.json'))
  const shape = {layers: teacher.numLayers, heads: teacher.numHeads}
  const heads = await readHeadsFile(req.headsPath)
  const identity = identifyTeacher(req.teacherFolder)
  await checkHeadsMatchTeacher(heads, identity, shape)
  const kept = chooseHeads(heads, req.choice, shape)
  const config: HybridConfig = {teacher, teacherJson, mixer: studentMixerConfig(teacher, req.mixer), adapterEps: 1e-5, layers: layoutFor(kept, teacher.numLayers)}
  const ckpt = await openCheckpoint(req.teacherFolder)
  try {
    checkTeacherWeights(teacher, ckpt, req.teacherFolder)
    const dtype = mainFloatDtype(ckpt)
    const files = await withAtomicFolder(req.out, async (tmp) => {
      await writeFile(join(tmp, 'config.json'), JSON.stringify(hybridConfigToJson(config), null, 2) + '\n')
      const written = await writeCheckpoint(tmp, studentTensors(ckpt, config, dtype, req.init), {maxShardBytes: req.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES, metadata: {producer: 'hybridize rewrite'}})
      const copied = await copyTokenizerFiles(req.teacherFolder, tmp)
      const provenance = await provenanceOf(req, identity, heads.sha256, kept, config)
      await writeFile(join(tmp, 'provenance.json'), JSON.stringify(provenance, null, 2) + '\n')
      await writeFile(join(tmp, 'README.md'), modelCard({config, identity, kept, headsSha256: heads.sha256, command: req.command, dtype, init: req.init}))
      return ['config.json', ...written.files, ...copied, 'provenance.json', 'README.md']
    }, {overwrite: req.overwrite})
    return {out: req.out, files, keptHeads: kept, totalHeads: shape.layers * shape.heads, dtype, config}
  } finally {
    await ckpt.close()
  }
}

/** The float dtype holding most of the teacher's parameters (F64 is written as F32). */
function mainFloatDtype(ckpt: Checkpoint): Dtype {
  const counts = new Map<Dtype, number>()
  for (const name of ckpt.names()) {
    const info = ckpt.info(name)
    const dtype = info.dtype as Dtype
    if (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16') counts.set(dtype, (counts.get(dtype) ?? 0) + info.shape.reduce((a, b) => a * b, 1))
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32'
}

/** Copies the tokenizer files `from` has into `to`; the names copied. */
export async function copyTokenizerFiles(from: string, to: string): Promise<string[]> {
  const copied: string[] = []
  for (const name of TOKENIZER_FILES) {
    const exists = await stat(join(from, name)).then((s) => s.isFile(), () => false)
    if (!exists) continue
    await copyFile(join(from, name), join(to, name))
    copied.push(name)
  }
  return copied
}

async function provenanceOf(req: RewriteRequest, identity: TeacherIdentity, headsSha256: string, kept: HeadId[], config: HybridConfig): Promise<Record<string, unknown>> {
  const configBytes = await readFile(join(req.teacherFolder, 'config.json'))
  return {
    tool: 'hybridize rewrite',
    created: new Date().toISOString(),
    command: req.command,
    teacher: {id: identity.id, revision: identity.revision ?? null, config_sha256: createHash('sha256').update(configBytes).digest('hex')},
    heads: {file: req.headsPath, sha256: headsSha256, choice: req.choice, kept},
    mixer: mixerToJson(config.mixer),
    ssm_init: req.init ?? {kind: 'attention'},
  }
}
