import {join} from 'node:path'
import {bytesPerElement, type Dtype} from '../io/safetensors/dtypes.js'
import {openCheckpoint} from '../io/safetensors/checkpoint.js'
import {parseTeacherConfig, type TeacherConfig} from './config.js'
import {HYBRID_MODEL_TYPE, layerKind, mixerToJson, parseHybridConfig} from './hybrid-config.js'
import {llambaName, llambaToHybridConfig} from './llamba.js'
import {expectedHybridWeights} from './hybrid-weights.js'
import {checkWeights} from './load-weights.js'
import {readConfigJson} from './load.js'
import {parseMamba2Config} from './mamba2-config.js'
import {expectedMamba2Weights} from './mamba2.js'
import {hybridSequenceMemory, ssmSequenceMemory, teacherSequenceMemory, type SequenceMemory} from './memory.js'
import {expectedTeacherWeights} from './teacher-weights.js'
import {loadedWeightBytes, type WeightDType} from './weight-dtype.js'

/**
 * What `hybridize inspect` reports about a model, from config.json and the safetensors headers
 * only (no weights are read): a teacher, a Mamba-2 checkpoint or a hybrid, told apart by `kind`.
 */
interface CheckpointFacts {
  folder: string
  parameters: number
  /** The checkpoint's weight dtypes, most common first. */
  dtypes: string[]
  weightBytes: number
}

/** One sequence's decoding memory at `contextLength` tokens, at the checkpoint's dtype and at f32 (what the engine computes in). */
export interface MemoryReport {
  checkpointDtype: SequenceMemory
  f32: SequenceMemory
  /** As hybridize decodes with `--kv-cache-dtype f16`: keys and values at 2 bytes, the SSM and conv states in f32. */
  f16KvCache: SequenceMemory
}

export interface ModelSummary extends CheckpointFacts {
  kind: 'teacher'
  architecture: string
  family: string
  layers: number
  hiddenSize: number
  vocabSize: number
  queryHeads: number
  keyValueHeads: number
  headDim: number
  rotaryDim: number
  tiedEmbeddings: boolean
  /** K and V of every layer for one token, at the checkpoint's dtype and at f32 (what the engine computes in). */
  kvCacheBytesPerToken: {checkpointDtype: number; f32: number}
  /** Bytes the weights take in memory loaded with each `--dtype` (weight-dtype.ts: matrices at 2 bytes in bf16 and f16). */
  loadedWeightBytes: Record<WeightDType, number>
  sequenceMemory: MemoryReport
}

export interface Mamba2Summary extends CheckpointFacts {
  kind: 'mamba2'
  architecture: string
  layers: number
  hiddenSize: number
  vocabSize: number
  heads: number
  headDim: number
  stateDim: number
  groups: number
  tiedEmbeddings: boolean
  sequenceMemory: MemoryReport
}

export interface HybridSummary extends CheckpointFacts {
  kind: 'hybrid'
  architecture: string
  /** The teacher's architecture and family (its skeleton). */
  teacherArchitecture: string
  family: string
  layers: number
  hiddenSize: number
  vocabSize: number
  queryHeads: number
  keyValueHeads: number
  headDim: number
  /** Teacher query heads kept as attention, and all of them. */
  attentionHeads: {kept: number; total: number}
  layerKinds: {attention: number; hybrid: number; ssm: number}
  /** Per layer, the kept heads. */
  layout: number[][]
  mixer: Record<string, unknown>
  tiedEmbeddings: boolean
  sequenceMemory: MemoryReport
  /** The teacher's KV cache for one sequence of the same length, and how many times smaller this hybrid's memory is. */
  teacherKvCache: MemoryReport
  memoryReduction: number
}

export type AnyModelSummary = ModelSummary | Mamba2Summary | HybridSummary

export const DEFAULT_CONTEXT_LENGTH = 4096

async function checkpointFacts(folder: string, expected: ReadonlyMap<string, readonly number[]>, architecture: string, layersField?: string): Promise<CheckpointFacts> {
  const ckpt = await openCheckpoint(folder)
  try {
    checkWeights(expected, ckpt, folder, architecture, layersField)
    let parameters = 0
    let weightBytes = 0
    const dtypeCounts = new Map<string, number>()
    for (const name of ckpt.names()) {
      const info = ckpt.info(name)
      const numel = info.shape.reduce((a, b) => a * b, 1)
      weightBytes += numel * bytesPerElement(info.dtype as Dtype)
      if (expected.has(name)) parameters += numel
      dtypeCounts.set(info.dtype, (dtypeCounts.get(info.dtype) ?? 0) + numel)
    }
    const dtypes = [...dtypeCounts].sort((a, b) => b[1] - a[1]).map(([d]) => d)
    return {folder, parameters, dtypes, weightBytes}
  } finally {
    await ckpt.close()
  }
}

function memoryReport(facts: CheckpointFacts, at: (bytes: number, kvBytes?: number) => SequenceMemory): MemoryReport {
  return {checkpointDtype: at(bytesPerElement((facts.dtypes[0] ?? 'F32') as Dtype)), f32: at(4), f16KvCache: at(4, 2)}
}

export async function summarizeModel(folder: string, contextLength = DEFAULT_CONTEXT_LENGTH): Promise<AnyModelSummary> {
  const raw = await readConfigJson(folder)
  const where = join(folder, 'config.json')
  if (raw.model_type === 'mamba2') {
    const cfg = parseMamba2Config(raw, where)
    const facts = await checkpointFacts(folder, expectedMamba2Weights(cfg), cfg.architecture)
    return {
      kind: 'mamba2',
      ...facts,
      architecture: cfg.architecture,
      layers: cfg.numLayers,
      hiddenSize: cfg.hiddenSize,
      vocabSize: cfg.vocabSize,
      heads: cfg.mixer.heads,
      headDim: cfg.mixer.headDim,
      stateDim: cfg.mixer.stateDim,
      groups: cfg.mixer.bGroups,
      tiedEmbeddings: cfg.tieWordEmbeddings,
      sequenceMemory: memoryReport(facts, (b) => ssmSequenceMemory(cfg.mixer, cfg.numLayers, contextLength, b)),
    }
  }
  if (raw.model_type === HYBRID_MODEL_TYPE || raw.model_type === 'llamba') {
    const llamba = raw.model_type === 'llamba'
    const cfg = llamba ? llambaToHybridConfig(raw, where) : parseHybridConfig(raw, where)
    const t = cfg.teacher
    const expected = new Map([...expectedHybridWeights(cfg)].map(([name, shape]) => [llamba ? llambaName(name) : name, shape]))
    const facts = await checkpointFacts(folder, expected, llamba ? 'Llamba' : 'hybridize hybrid', llamba ? 'n_layer' : undefined)
    const kinds = {attention: 0, hybrid: 0, ssm: 0}
    cfg.layers.forEach((_, l) => kinds[layerKind(cfg, l)]++)
    const sequenceMemory = memoryReport(facts, (b, kv) => hybridSequenceMemory(cfg, contextLength, b, kv))
    const teacherKvCache = memoryReport(facts, (b, kv) => teacherSequenceMemory(t, contextLength, b, kv))
    return {
      kind: 'hybrid',
      ...facts,
      architecture: llamba ? 'LlambaLMHeadModel' : String((raw.architectures as unknown[] | undefined)?.[0] ?? HYBRID_MODEL_TYPE),
      teacherArchitecture: t.architecture,
      family: t.family,
      layers: t.numLayers,
      hiddenSize: t.hiddenSize,
      vocabSize: t.vocabSize,
      queryHeads: t.numHeads,
      keyValueHeads: t.numKvHeads,
      headDim: t.headDim,
      attentionHeads: {kept: cfg.layers.reduce((n, l) => n + l.attentionHeads.length, 0), total: t.numLayers * t.numHeads},
      layerKinds: kinds,
      layout: cfg.layers.map((l) => l.attentionHeads),
      mixer: mixerToJson(cfg.mixer),
      tiedEmbeddings: t.tieWordEmbeddings,
      sequenceMemory,
      teacherKvCache,
      memoryReduction: teacherKvCache.f32.totalBytes / sequenceMemory.f32.totalBytes,
    }
  }
  const cfg = parseTeacherConfig(raw, where)
  const expected = expectedTeacherWeights(cfg)
  const facts = await checkpointFacts(folder, expected, cfg.architecture)
  return teacherSummary(cfg, facts, expected, contextLength)
}

function teacherSummary(cfg: TeacherConfig, facts: CheckpointFacts, expected: ReadonlyMap<string, readonly number[]>, contextLength: number): ModelSummary {
  const kvElements = 2 * cfg.numLayers * cfg.numKvHeads * cfg.headDim
  return {
    kind: 'teacher',
    ...facts,
    architecture: cfg.architecture,
    family: cfg.family,
    layers: cfg.numLayers,
    hiddenSize: cfg.hiddenSize,
    vocabSize: cfg.vocabSize,
    queryHeads: cfg.numHeads,
    keyValueHeads: cfg.numKvHeads,
    headDim: cfg.headDim,
    rotaryDim: cfg.rotaryDim,
    tiedEmbeddings: cfg.tieWordEmbeddings,
    kvCacheBytesPerToken: {checkpointDtype: kvElements * bytesPerElement((facts.dtypes[0] ?? 'F32') as Dtype), f32: kvElements * 4},
    loadedWeightBytes: {f32: loadedWeightBytes(expected, 'f32'), bf16: loadedWeightBytes(expected, 'bf16'), f16: loadedWeightBytes(expected, 'f16')},
    sequenceMemory: memoryReport(facts, (b, kv) => teacherSequenceMemory(cfg, contextLength, b, kv)),
  }
}
