import {performance} from 'node:perf_hooks'
import type {Backend} from '../../backend/backend.js'
import {WebGpuBackend} from '../../backend/webgpu.js'
import {withPrecision} from '../../engine/precision.js'
import {fromArray, scopeAsync} from '../../engine/tensor.js'
import {HybridizeError} from '../../errors.js'
import type {KvCacheDtype} from '../../models/decode-cache.js'
import type {DecodingModel} from '../../models/decoding-model.js'
import {Random} from '../../util/random.js'
import type {LanguageModel} from '../../models/language-model.js'
import type {Curve, EvalContext, TaskResult} from './types.js'

/**
 * `throughput`: speed and memory of incremental decoding, swept over batch sizes (1, 2, 4, ... up
 * to --batch-size) and context lengths (powers of two from --seq-len / 8 up to --seq-len):
 *   prefill_tok_s   B·L tokens / the time of one cached forward over a prompt [B, L]
 *   decode_tok_s    B·DECODE_STEPS / the time of DECODE_STEPS one-token steps after it
 *   kv_bytes_per_seq, ssm_bytes_per_seq   the decode state one sequence holds at context L,
 *                   computed from the cache's tensors (attention layers grow with L, SSM layers do not)
 *   measured_bytes_per_seq   (WebGPU) GPU memory the backend allocates for that state, per sequence
 * Each point is the median of repeated runs (at least MIN_RUNS, until MIN_SECONDS have passed),
 * decoding at the run's --precision and --kv-cache-dtype (an f16 cache halves kv_bytes_per_seq).
 * Prompts are random token ids: the speed does not depend on the text.
 */
const DECODE_STEPS = 16
const MIN_RUNS = 3
const MAX_RUNS = 25
const MIN_SECONDS = 0.3

export function isDecodingModel(lm: LanguageModel): lm is DecodingModel {
  return typeof (lm as Partial<DecodingModel>).forwardCached === 'function' && typeof (lm as Partial<DecodingModel>).newCache === 'function'
}

/** 1, 2, 4, ... up to and including `max`. */
export function powersUpTo(from: number, max: number): number[] {
  const out: number[] = []
  for (let v = from; v < max; v *= 2) out.push(v)
  out.push(max)
  return out
}

export async function runThroughput(seqLen: number, ctx: EvalContext): Promise<TaskResult> {
  const lm = ctx.lm
  if (!isDecodingModel(lm)) throw new HybridizeError('throughput: this model cannot decode incrementally', {code: 'E_TASK'})
  const batches = powersUpTo(1, ctx.batchSize)
  const contexts = powersUpTo(Math.max(1, Math.floor(seqLen / 8)), seqLen)
  const rng = new Random(ctx.seed)
  const prompt = (B: number, L: number): Int32Array => Int32Array.from({length: B * L}, () => rng.int(lm.vocabSize))
  const metrics: Record<string, number> = {}
  const curves: Curve[] = []

  // Compile every kernel once (first WebGPU use builds pipelines) so no timing pays for it.
  await timeDecoding(lm, prompt(1, contexts[0]), 1, contexts[0], 2, ctx)

  for (const B of batches) {
    const prefill: Curve = {x: 'context length', y: 'prefill tokens/s', chart: 'prefill_tok_s', label: `batch ${B}`, points: [], autoRange: true, logX: true}
    const decode: Curve = {x: 'context length', y: 'decode tokens/s', chart: 'decode_tok_s', label: `batch ${B}`, points: [], autoRange: true, logX: true}
    for (const L of contexts) {
      ctx.progress(`throughput: batch ${B}, context ${L}`)
      const t = await medianTimes(() => timeDecoding(lm, prompt(B, L), B, L, DECODE_STEPS, ctx))
      const p = (B * L) / t.prefillSeconds
      const d = (B * DECODE_STEPS) / t.decodeSeconds
      metrics[`prefill_tok_s,batch=${B};context=${L}`] = p
      metrics[`decode_tok_s,batch=${B};context=${L}`] = d
      prefill.points.push({x: L, y: p})
      decode.points.push({x: L, y: d})
    }
    curves.push(prefill, decode)
  }

  const memory = {kv: [] as {x: number; y: number}[], ssm: [] as {x: number; y: number}[], measured: [] as {x: number; y: number}[]}
  for (const L of contexts) {
    const m = await stateBytes(lm, ctx.batchSize, L, ctx.kvCacheDtype)
    metrics[`kv_bytes_per_seq,context=${L}`] = m.kv
    metrics[`ssm_bytes_per_seq,context=${L}`] = m.ssm
    memory.kv.push({x: L, y: m.kv})
    memory.ssm.push({x: L, y: m.ssm})
    if (m.measured !== undefined) {
      metrics[`measured_bytes_per_seq,context=${L}`] = m.measured
      memory.measured.push({x: L, y: m.measured})
    }
  }
  const bytesCurve = (label: string, points: {x: number; y: number}[]): Curve =>
    ({x: 'context length', y: 'decode state bytes per sequence', chart: 'state_bytes', label, points, autoRange: true})
  curves.push(bytesCurve('KV cache', memory.kv), bytesCurve('SSM state', memory.ssm))
  if (memory.measured.length) curves.push(bytesCurve('allocated (WebGPU)', memory.measured))
  return {
    task: 'throughput',
    metrics,
    curves,
    counts: {original: batches.length * contexts.length, effective: batches.length * contexts.length},
    config: {
      task: 'throughput',
      output_type: 'throughput',
      num_fewshot: 0,
      batch_sizes: batches,
      context_lengths: contexts,
      decode_steps: DECODE_STEPS,
      metric_list: [
        {metric: 'prefill_tok_s', aggregation: 'median', higher_is_better: true},
        {metric: 'decode_tok_s', aggregation: 'median', higher_is_better: true},
        {metric: 'kv_bytes_per_seq', aggregation: 'none', higher_is_better: false},
        {metric: 'ssm_bytes_per_seq', aggregation: 'none', higher_is_better: false},
        {metric: 'measured_bytes_per_seq', aggregation: 'none', higher_is_better: false},
      ],
      metadata: {version: 1},
    },
  }
}

async function medianTimes(run: () => Promise<{prefillSeconds: number; decodeSeconds: number}>): Promise<{prefillSeconds: number; decodeSeconds: number}> {
  const runs = []
  const start = performance.now()
  while (runs.length < MIN_RUNS || (runs.length < MAX_RUNS && performance.now() - start < MIN_SECONDS * 1000)) runs.push(await run())
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  return {prefillSeconds: median(runs.map((r) => r.prefillSeconds)), decodeSeconds: median(runs.map((r) => r.decodeSeconds))}
}

/**
 * Seconds for a prefill of `ids` [B, L] and for `steps` one-token steps after it (logits read back
 * each time, as sampling does), at the run's precision and KV cache dtype.
 */
async function timeDecoding(
  lm: DecodingModel, ids: Int32Array, B: number, L: number, steps: number, {precision = 'f32', kvCacheDtype}: Pick<EvalContext, 'precision' | 'kvCacheDtype'>,
): Promise<{prefillSeconds: number; decodeSeconds: number}> {
  const cache = lm.newCache(B, L + steps, {kvDtype: kvCacheDtype})
  try {
    const forward = (x: Int32Array, t: number) =>
      scopeAsync(async () => withPrecision(precision, () => lm.forwardCached(fromArray(lm.backend, x, [B, t]), cache, {lastOnly: true})).logits.toFloat32())
    await lm.backend.sync()
    const t0 = performance.now()
    await forward(ids, L)
    const t1 = performance.now()
    const next = ids.subarray(0, B)
    for (let s = 0; s < steps; s++) await forward(next, 1)
    const t2 = performance.now()
    return {prefillSeconds: (t1 - t0) / 1000, decodeSeconds: (t2 - t1) / 1000}
  } finally {
    cache.dispose()
  }
}

/** Decode state bytes per sequence at context L: computed from the cache, and as the WebGPU backend allocates it. */
async function stateBytes(lm: DecodingModel, B: number, L: number, kvDtype: KvCacheDtype | undefined): Promise<{kv: number; ssm: number; measured?: number}> {
  const backend: Backend = lm.backend
  const gpu = backend instanceof WebGpuBackend ? backend : undefined
  await gpu?.trimPool()
  const before = gpu?.allocatedBytes ?? 0
  const cache = lm.newCache(B, L, {kvDtype})
  const after = gpu?.allocatedBytes ?? 0
  const {kv, ssm} = cache.bytesByKind()
  cache.dispose()
  return {kv: kv / B, ssm: ssm / B, measured: gpu ? (after - before) / B : undefined}
}
