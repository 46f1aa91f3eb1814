import type {Precision} from '../engine/precision.js'
import {HybridizeError} from '../errors.js'
import {WEIGHT_GROUPS, type WeightGroup} from './student.js'

/** The settings of one distillation run, as `run.json` stores them so `--resume` continues with the same. */
export type StageNumber = 1 | 2 | 3

export interface DistillSettings {
  teacher: string
  student: string
  data: string
  textField: string
  /** `--mix` as given, e.g. 'kv-retrieval:0.1'. */
  mix?: string
  stages: StageNumber[]
  /** Tokens per stage, aligned with `stages`. */
  tokens: number[]
  lr: number[]
  batchSize: number
  seqLen: number
  gradAccum: number
  seed: number
  /** Layers stages 1 and 2 train; undefined for all. */
  layers?: number[]
  /** Weight groups that stay frozen in stages 2 and 3 (stage 1 trains mixers only). */
  freeze?: WeightGroup[]
  loss: 'ce' | 'kl'
  temperature: number
  clip: number
  weightDecay: number
  warmup: number
  decay: number
  saveEvery: number
  /** Recompute activations in the backward instead of keeping them: stage 1 per piece, stages 2 and 3 per layer. */
  recompute?: boolean
  /** Linear layers' matmuls: f32, or f16 operands with f32 accumulation and dynamic loss scaling (engine/precision.ts). */
  precision: Precision
  /** Stage 3 data-parallel over this many devices of one host (distill/replicas.ts); 1 when absent. */
  devices?: number
  /** Stage 3 across hosts by DiLoCo (distill/diloco.ts); absent for a single worker. */
  diloco?: DilocoSettings
}

export interface DilocoSettings {
  workers: number
  /** This worker, 0 .. workers − 1: it trains on rows index·B .. (index + 1)·B − 1 of every N·B drawn. */
  index: number
  /** The folder every worker reads and writes the round deltas in (sync-dir.ts). */
  syncDir: string
  /** H: inner steps between outer steps. */
  syncEvery: number
  outerLr: number
  outerMomentum: number
}

/**
 * Stage 2's frozen groups when `--freeze` is not given: the MLPs and norms, copied from the teacher.
 * goombalab/phi-mamba's assets/mohawk_stage2.py does the same (freeze_mlp = True; mlp, layer norms,
 * embedding and LM head frozen: only the mixer trains; stage 2 here never trains the last two).
 */
export const STAGE2_DEFAULT_FREEZE: readonly WeightGroup[] = ['mlp', 'norm']

export function parseStages(spec: string): StageNumber[] {
  if (spec === 'all') return [1, 2, 3]
  const stages = spec.split(',').map((s) => Number(s.trim()))
  if (!stages.every((s) => s === 1 || s === 2 || s === 3) || new Set(stages).size !== stages.length || stages.some((s, i) => i > 0 && s < stages[i - 1])) {
    throw new HybridizeError(`--stage ${spec}: give 1, 2, 3, an increasing list such as 2,3, or all`, {code: 'E_FLAG'})
  }
  return stages as StageNumber[]
}

const SUFFIX: Record<string, number> = {'': 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6, g: 1e9, G: 1e9, b: 1e9, B: 1e9}

/** '2M' -> 2e6; '80M,160M,2.76B' -> one per stage; a single value applies to every stage. */
export function parsePerStage(flag: string, spec: string, stages: number, suffixes = true): number[] {
  const values = spec.split(',').map((part) => {
    const m = /^\s*([0-9]*\.?[0-9]+(?:e[-+]?\d+)?)\s*([kKmMgGbB]?)\s*$/.exec(part)
    const value = m && (suffixes || m[2] === '') ? Number(m[1]) * SUFFIX[m[2]] : NaN
    if (!(value > 0)) throw new HybridizeError(`--${flag} ${spec}: expected a positive number${suffixes ? ' (suffixes k, M, B allowed)' : ''}`, {code: 'E_FLAG'})
    return value
  })
  if (values.length === 1) return Array(stages).fill(values[0])
  if (values.length !== stages) throw new HybridizeError(`--${flag} ${spec}: give one value, or one per stage (${stages})`, {code: 'E_FLAG'})
  return values
}

/** '0-3,6' -> [0, 1, 2, 3, 6], checked against the student's layer count. */
export function parseLayers(spec: string | undefined, numLayers: number, flag = 'layers'): number[] | undefined {
  if (spec === undefined) return undefined
  const layers = new Set<number>()
  for (const part of spec.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(part)
    const lo = m ? Number(m[1]) : NaN
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo
    if (!m || hi < lo || hi >= numLayers) throw new HybridizeError(`--${flag} ${spec}: expected layers such as 0-3,6 between 0 and ${numLayers - 1}`, {code: 'E_FLAG'})
    for (let l = lo; l <= hi; l++) layers.add(l)
  }
  return [...layers].sort((a, b) => a - b)
}

export function parseFreeze(spec: string | undefined): WeightGroup[] | undefined {
  if (spec === undefined) return undefined
  if (spec.trim() === '' || spec === 'none') return []
  const groups = spec.split(',').map((s) => s.trim())
  for (const g of groups) {
    if (!(WEIGHT_GROUPS as readonly string[]).includes(g)) throw new HybridizeError(`--freeze: unknown group '${g}' (groups: ${WEIGHT_GROUPS.join(', ')}, or none)`, {code: 'E_FLAG'})
  }
  return groups as WeightGroup[]
}

/** Data-parallel replicas across all workers: devices per worker times workers. */
export function replicaCount(s: Pick<DistillSettings, 'devices' | 'diloco'>): number {
  return (s.devices ?? 1) * (s.diloco?.workers ?? 1)
}

/**
 * Optimizer steps a stage takes to see `tokens` tokens (at least one). `tokens` counts every
 * device's and worker's rows: each step trains on batchSize rows per device per worker.
 */
export function stepsFor(tokens: number, s: Pick<DistillSettings, 'batchSize' | 'seqLen' | 'gradAccum' | 'devices' | 'diloco'>): number {
  return Math.max(1, Math.ceil(tokens / (s.batchSize * s.seqLen * s.gradAccum * replicaCount(s))))
}

/** --workers and --devices train stage 3 only: stages 1 and 2 spread over machines by --layers and merge. */
export function checkParallel(s: Pick<DistillSettings, 'devices' | 'diloco' | 'stages'>): void {
  const parallel = [s.diloco && '--workers', (s.devices ?? 1) > 1 && '--devices'].filter(Boolean)
  if (parallel.length > 0 && s.stages.some((stage) => stage !== 3)) {
    throw new HybridizeError(`${parallel.join(' and ')} train stage 3 only (--stage 3); stages 1 and 2 spread over machines by --layers and hybridize merge`, {code: 'E_FLAG'})
  }
  const d = s.diloco
  if (!d) return
  if (!(Number.isInteger(d.workers) && d.workers >= 1)) throw new HybridizeError(`--workers ${d.workers}: expected a whole number >= 1`, {code: 'E_FLAG'})
  if (!(Number.isInteger(d.index) && d.index >= 0 && d.index < d.workers)) throw new HybridizeError(`--worker-index ${d.index}: expected 0 to ${d.workers - 1} for --workers ${d.workers}`, {code: 'E_FLAG'})
  if (!(Number.isInteger(d.syncEvery) && d.syncEvery >= 1)) throw new HybridizeError(`--sync-every ${d.syncEvery}: expected a whole number of steps >= 1`, {code: 'E_FLAG'})
  if (!(d.outerLr > 0)) throw new HybridizeError(`--outer-lr ${d.outerLr}: expected a number > 0`, {code: 'E_FLAG'})
  if (!(d.outerMomentum >= 0 && d.outerMomentum < 1)) throw new HybridizeError(`--outer-momentum ${d.outerMomentum}: expected a number >= 0 and < 1`, {code: 'E_FLAG'})
}
