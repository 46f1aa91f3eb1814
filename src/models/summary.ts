import {bytesPerElement, type Dtype} from '../io/safetensors/dtypes.js'
import {openCheckpoint} from '../io/safetensors/checkpoint.js'
import {parseTeacherConfig} from './config.js'
import {checkTeacherWeights, readConfigJson} from './load.js'

/** What `hybridize inspect` reports about a model, from config.json and safetensors headers only. */
export interface ModelSummary {
  folder: string
  architecture: string
  family: string
  parameters: number
  layers: number
  hiddenSize: number
  vocabSize: number
  queryHeads: number
  keyValueHeads: number
  headDim: number
  rotaryDim: number
  /** The checkpoint's weight dtypes, most common first. */
  dtypes: string[]
  weightBytes: number
  tiedEmbeddings: boolean
  /** K and V of every layer for one token, at the checkpoint's dtype and at f32 (what the engine computes in). */
  kvCacheBytesPerToken: {checkpointDtype: number; f32: number}
}

export async function summarizeModel(folder: string): Promise<ModelSummary> {
  const cfg = parseTeacherConfig(await readConfigJson(folder), `${folder}/config.json`)
  const ckpt = await openCheckpoint(folder)
  try {
    const expected = checkTeacherWeights(cfg, ckpt, folder)
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
    const kvElements = 2 * cfg.numLayers * cfg.numKvHeads * cfg.headDim
    return {
      folder,
      architecture: cfg.architecture,
      family: cfg.family,
      parameters,
      layers: cfg.numLayers,
      hiddenSize: cfg.hiddenSize,
      vocabSize: cfg.vocabSize,
      queryHeads: cfg.numHeads,
      keyValueHeads: cfg.numKvHeads,
      headDim: cfg.headDim,
      rotaryDim: cfg.rotaryDim,
      dtypes,
      weightBytes,
      tiedEmbeddings: cfg.tieWordEmbeddings,
      kvCacheBytesPerToken: {checkpointDtype: kvElements * bytesPerElement((dtypes[0] ?? 'F32') as Dtype), f32: kvElements * 4},
    }
  } finally {
    await ckpt.close()
  }
}
