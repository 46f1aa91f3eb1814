import {createRequire} from 'node:module'
import {arch, release, type} from 'node:os'
import {dirname} from 'node:path'
import type {Precision} from '../engine/precision.js'
import {checkFolderDestination} from '../io/atomic.js'
import type {EvalRun} from '../eval/lm-eval-results.js'
import {modelInfo} from '../eval/model-info.js'
import {checkOutputPath, writeReports} from '../eval/report.js'
import {parseTaskList, runTask} from '../eval/run-tasks.js'
import {isGenerationTask, type GenerationSettings} from '../eval/tasks/generation.js'
import {loadGenerationDocs} from '../eval/tasks/generation-docs.js'
import {readGenerationDefaults} from '../generate/generation-config.js'
import {resolveModel} from '../hub/cache.js'
import type {KvCacheDtype} from '../models/decode-cache.js'
import {readConfigJson} from '../models/load.js'
import {loadModel} from '../models/load-model.js'
import type {WeightOptions} from '../models/load-weights.js'
import {loadTokenizer} from '../tokenizer/load.js'
import type {Backend} from '../backend/backend.js'
import {withBackend, withPeerBackends, type BackendChoice} from './session.js'

/** `hybridize eval` from code: every task on every model, on one backend. */
export interface EvaluateRequest extends BackendChoice, WeightOptions {
  /** Model folders or org/name[@revision] from the Hugging Face cache. */
  models: string[]
  /** Task specs as --tasks takes them, e.g. 'kv-retrieval,ppl:wiki.txt'. */
  tasks: string
  limit?: number
  /** How generation tasks sample (default: greedy, one sample). */
  generation?: GenerationSettings
  /** Linear layers' matmuls in every forward, scoring and decoding (engine/precision.ts); f32 by default. */
  precision?: Precision
  /** Attention's key/value cache where a task decodes (models/decode-cache.ts); f32 by default. */
  kvCacheDtype?: KvCacheDtype
  batchSize?: number
  /** Devices the scoring tasks (retrieval, mc:, ppl:) share their items among (`device` opens each); 1 by default. */
  devices?: number
  seqLen?: number
  seed?: number
  /** Write results (and samples, with logSamples) in lm-evaluation-harness's layout here. */
  outputPath?: string
  logSamples?: boolean
  /** A task's progress, one line at a time. */
  progress?: (model: string, text: string) => void
  /** Each task as it starts and ends (the CLI's spinner). */
  taskStarted?: (model: string, task: string) => void
  taskDone?: (model: string, task: string) => void
  /** Recorded in the results (default: this package's version). */
  version?: string
}

export interface EvaluateOutput {
  runs: EvalRun[]
  /** The results (and samples) files written under outputPath. */
  files: string[]
}

// src/api/ and dist/api/ both sit two folders below package.json.
const PACKAGE_VERSION = (createRequire(import.meta.url)('../../package.json') as {version: string}).version

/** What `hybridize eval` does without flags. */
export const EVALUATE_DEFAULTS = {batchSize: 8, seqLen: 512, seed: 1234, precision: 'f32' as Precision, kvCacheDtype: 'f32' as KvCacheDtype}

export async function evaluate(request: EvaluateRequest): Promise<EvaluateOutput> {
  const {models, outputPath, status = () => {}} = request
  const {batchSize = EVALUATE_DEFAULTS.batchSize, seqLen = EVALUATE_DEFAULTS.seqLen, seed = EVALUATE_DEFAULTS.seed} = request
  const {precision = EVALUATE_DEFAULTS.precision, kvCacheDtype = EVALUATE_DEFAULTS.kvCacheDtype} = request
  const tasks = parseTaskList(request.tasks)
  if (outputPath) {
    checkOutputPath(outputPath, models.length)
    await checkFolderDestination(outputPath.endsWith('.json') ? dirname(outputPath) : outputPath)
  }
  // A gen: file with a bad line fails here, before any model loads.
  for (const task of tasks.filter((t) => t.startsWith('gen:'))) await loadGenerationDocs(task, seed)
  const folders = await Promise.all(models.map((m) => resolveModel(m)))
  const runs: EvalRun[] = []
  const device = await withBackend(request, async (backend) => withPeerBackends(request, request.devices ?? 1, async (peerBackends) => {
    for (const [i, folder] of folders.entries()) {
      const name = models[i]
      const started = Date.now()
      const load = (on: Backend) => loadModel(folder, on, {dtype: request.dtype, onDType: request.onDType})
      const lm = await load(backend)
      const peers = []
      for (const on of peerBackends) peers.push(await load(on))
      const tokenizer = tasks.every((t) => t === 'throughput') ? undefined : await loadTokenizer(folder)
      const info = await modelInfo(name, folder, [...lm.weights.values()], tokenizer)
      const eosTokenIds = tasks.some(isGenerationTask) ? (await readGenerationDefaults(folder)).eosTokenIds : []
      const maxPositions = (await readConfigJson(folder)).max_position_embeddings
      const ctx = {
        lm, peers, tokenizer, generation: request.generation, precision, kvCacheDtype, eosTokenIds, maxPositions: typeof maxPositions === 'number' ? maxPositions : undefined, limit: request.limit, batchSize, seed, logSamples: request.logSamples ?? false,
        prefixTokenId: info.bosToken[1] !== 'None' ? Number(info.bosToken[1]) : (info.eotTokenId ?? undefined),
        progress: (text: string) => request.progress?.(name, text),
        warn: (text: string) => status(`warning: ${text}`),
      }
      const results = []
      for (const task of tasks) {
        request.taskStarted?.(name, task)
        results.push(await runTask(task, ctx, seqLen))
        request.taskDone?.(name, task)
      }
      runs.push({model: name, results, info, startTime: started / 1000, seconds: (Date.now() - started) / 1000})
      for (const model of [lm, ...peers]) for (const w of model.weights.values()) w.dispose()
    }
    return {name: backend.name, description: backend.description}
  }))
  const version = request.version ?? PACKAGE_VERSION
  const settings = {
    batchSize, limit: request.limit ?? null, seed, precision, kvCacheDtype, device: device.name,
    environment: `hybridize ${version}, Node.js ${process.version}, ${type()} ${release()} ${arch()}, ${device.description}`,
    hybridizeVersion: version,
  }
  const files = outputPath ? await writeReports(outputPath, runs, settings) : []
  return {runs, files}
}
