import {performance} from 'node:perf_hooks'
import type {Backend} from '../src/backend/backend.js'
import {WebGpuBackend} from '../src/backend/webgpu.js'
import {bytesPerValue} from '../src/kernels/half-precision.js'
import {sampleTokens} from '../src/engine/decode-ops.js'
import {withPrecision, type Precision} from '../src/engine/precision.js'
import {fromArray, keep, scope, scopeAsync, type Tensor} from '../src/engine/tensor.js'
import type {KvCacheDtype} from '../src/models/decode-cache.js'
import type {LoadedModel} from '../src/models/load-model.js'
import {HybridModel} from '../src/models/hybrid.js'
import {hybridSequenceMemory, ssmSequenceMemory, teacherSequenceMemory} from '../src/models/memory.js'
import {TeacherModel} from '../src/models/teacher.js'
import {Random} from '../src/util/random.js'

/**
 * The decode sweep (bench/decode-sweep.mjs): tokens/s and memory per sequence of one model against
 * batch size and context length. A cell (context L, batch B) fills a cache with L positions, then
 * times decode steps as generate() makes them: a cached forward of one token per sequence, the next
 * token drawn on the device and fed to the next step there, each step submitted as soon as it is
 * encoded, B ids read back. Speed does not depend on what the cache holds, so a context larger than
 * `prefillTokens` (B·L) is not computed: the cache is only advanced to L ('prefill: skipped'); a
 * smaller one is prefilled for real, in chunks, and timed. The largest batch at each context comes
 * from the memory model (models/memory.ts). A time budget must not leave out the cells that matter:
 * the largest batch at the `first` contexts (the acceptance's 8k), then the largest at every other
 * context, then halvings of each, level by level, so batch 1 comes last (planCells); a failed batch
 * rules out larger ones at its context, and a cell's timed steps stop at `cellSeconds`. Linear layers run at
 * `precision` (mixed: f16 weights, as `generate --precision mixed`) and attention caches keys and values in
 * `kvCacheDtype` (`generate --kv-cache-dtype`), both counted by the memory model.
 */

export interface SweepOptions {
  contexts: number[]
  /** No batch above this, whatever fits. */
  maxBatch: number
  /** No batch below this (default 1): one cell alone, as a profile of one batch size wants. */
  minBatch?: number
  steps: number
  /** Bytes of device memory the sweep may fill (weights, caches, activations). */
  deviceBytes: number
  /** A cell of at most this many cached tokens (B·L) is prefilled for real. */
  prefillTokens: number
  /** performance.now() after which no cell starts. */
  deadline: number
  /** Contexts whose largest batch runs before every other cell (the acceptance cell). */
  first?: number[]
  /** Seconds of timed steps a cell runs at most (at least MIN_TIMED_STEPS run). */
  cellSeconds?: number
  /** Linear layers' matmuls (f32 when absent). */
  precision?: Precision
  /** Attention's key/value cache (f32 when absent). */
  kvCacheDtype?: KvCacheDtype
}

export interface SweepLine {
  model: string
  kind: 'teacher' | 'hybrid' | 'ssm'
  precision: Precision
  kv_cache_dtype: KvCacheDtype
  context: number
  batch: number
  status: 'ok' | 'error' | 'skipped'
  /** The largest batch the memory model fits at this context (before --max-batch). */
  fits_batch: number
  memory_model_bytes_per_seq: number
  state_bytes_per_seq?: number
  measured_bytes_per_seq?: number
  prefill?: 'real' | 'skipped'
  prefill_tok_s?: number
  decode_tok_s?: number
  step_ms?: number
  /** Decode steps timed (fewer than `steps` where the cell's time cap ended them). */
  timed_steps?: number
  /** Host milliseconds to encode one step (ops, shape checks, kernel launches): the part of step_ms the GPU does not set. */
  encode_ms?: number
  /** Milliseconds from a read of 4 values to the host having them, with nothing else queued (the model's median over 20). */
  readback_ms?: number
  error?: string
}

/** Decode steps run before the timed ones (pipelines built, pools filled). */
const WARMUP_STEPS = 2
/** Timed steps a cell runs even past its time cap. */
const MIN_TIMED_STEPS = 2
/** Tokens one prefill forward takes at most (B · chunk). */
const PREFILL_CHUNK_TOKENS = 4096

export function modelKind(model: LoadedModel): SweepLine['kind'] {
  if (model instanceof TeacherModel) return 'teacher'
  if (model instanceof HybridModel) return model.config.layers.every((l) => l.attentionHeads.length === 0) ? 'ssm' : 'hybrid'
  return 'ssm'
}

/** Decode state of one sequence at `context` positions by models/memory.ts: the SSM state in f32 (the engine's element size), the KV cache in `kvCacheDtype`. */
export function sequenceBytes(model: LoadedModel, context: number, kvCacheDtype: KvCacheDtype = 'f32'): number {
  const kvBytes = bytesPerValue(kvCacheDtype)
  if (model instanceof TeacherModel) return teacherSequenceMemory(model.config, context, 4, kvBytes).totalBytes
  if (model instanceof HybridModel) return hybridSequenceMemory(model.config, context, 4, kvBytes).totalBytes
  return ssmSequenceMemory(model.config.mixer, model.config.numLayers, context, 4).totalBytes
}

/**
 * Device bytes of the weights: as loaded (a teacher's half-precision matrices at 2 bytes), and under mixed
 * precision each matrix's f16 copy besides (engine/half-weight-cache.ts; one where its sizes are whole
 * tensor-core tiles, as the 1B shape's are).
 */
export function weightBytesOf(model: LoadedModel, precision: Precision = 'f32'): number {
  const weights = [...model.weights.values()]
  const held = weights.reduce((s, w) => s + w.numel * bytesPerValue(w.dtype), 0)
  return precision === 'mixed' ? held + weights.filter((w) => w.rank === 2).reduce((s, w) => s + w.numel * 2, 0) : held
}

export interface FitInputs {
  deviceBytes: number
  weightBytes: number
  /** Decode state per sequence at the cache's capacity. */
  stateBytes: number
  /** Activations of one decode step per sequence (logits, hidden states, MLP). */
  activationBytes: number
  /** The largest tensor per sequence (a cache tensor, or the logits), against the device's largest storage binding. */
  largestTensorBytes: number
  maxBindingBytes: number
}

/** The largest batch whose weights, caches and step activations fit the memory, each cache tensor within one binding. */
export function largestBatch(f: FitInputs): number {
  const byMemory = Math.floor((f.deviceBytes - f.weightBytes) / (f.stateBytes + f.activationBytes))
  const byBinding = f.largestTensorBytes > 0 ? Math.floor(f.maxBindingBytes / f.largestTensorBytes) : Infinity
  return Math.max(0, Math.min(byMemory, byBinding))
}

export interface Cell {
  context: number
  batch: number
}

/**
 * The order cells run in, so that a budget leaves out only the least telling: at each context the
 * largest batch that fits and then its halvings down to `minBatch`, taken level by level across contexts
 * (every context's largest, then every context's half, ...), the `first` contexts leading each level.
 */
export function planCells(contexts: number[], largestAt: (context: number) => number, first: number[] = [], minBatch = 1): Cell[] {
  const ordered = [...contexts.filter((c) => first.includes(c)), ...contexts.filter((c) => !first.includes(c))]
  const ladders = ordered.map((context) => {
    const ladder: Cell[] = []
    for (let batch = largestAt(context); batch >= Math.max(1, minBatch); batch = Math.floor(batch / 2)) ladder.push({context, batch})
    return ladder
  })
  const cells: Cell[] = []
  for (let level = 0; ladders.some((l) => level < l.length); level++) for (const l of ladders) if (level < l.length) cells.push(l[level])
  return cells
}

/** Sweep one model; each cell's line goes to `emit` as soon as it is known. */
export async function sweepModel(model: LoadedModel, name: string, opts: SweepOptions, emit: (line: SweepLine) => void, progress: (line: string) => void = () => {}): Promise<SweepLine[]> {
  const backend = model.backend
  const kind = modelKind(model)
  const precision = opts.precision ?? 'f32'
  const kvCacheDtype = opts.kvCacheDtype ?? 'f32'
  const weightBytes = weightBytesOf(model, precision)
  const maxBindingBytes = backend instanceof WebGpuBackend ? backend.device.limits.maxStorageBufferBindingSize : Number.MAX_SAFE_INTEGER
  const {hiddenSize, vocabSize} = dims(model)
  // Logits, a dozen hidden-size vectors and the MLP's three intermediates, per sequence, f32; doubled for the pool.
  const activationBytes = 2 * 4 * (vocabSize + 12 * hiddenSize + 3 * 4 * hiddenSize)
  const fits = new Map<number, number>()
  for (const L of opts.contexts) {
    const capacity = L + WARMUP_STEPS + opts.steps
    fits.set(L, largestBatch({deviceBytes: opts.deviceBytes, weightBytes, stateBytes: sequenceBytes(model, capacity, kvCacheDtype), activationBytes, largestTensorBytes: Math.max(largestCacheTensorBytes(model, capacity, kvCacheDtype), 4 * vocabSize), maxBindingBytes}))
  }
  const readbackMs = await readbackLatency(backend)
  const lines: SweepLine[] = []
  // The smallest batch that failed at each context: larger ones there are not tried.
  const failedAt = new Map<number, number>()
  // A cell starts only while the last one's time is left before the deadline (cells shrink as the plan goes on).
  let lastMs = 0
  const out = (line: SweepLine): void => void (lines.push(line), emit(line))
  for (const {context, batch} of planCells(opts.contexts, (L) => Math.min(opts.maxBatch, fits.get(L)!), opts.first, opts.minBatch)) {
    const base = {model: name, kind, precision, kv_cache_dtype: kvCacheDtype, context, batch, fits_batch: fits.get(context)!, memory_model_bytes_per_seq: sequenceBytes(model, context, kvCacheDtype), readback_ms: readbackMs}
    if (batch >= (failedAt.get(context) ?? Infinity) || performance.now() + lastMs >= opts.deadline) {
      out({...base, status: 'skipped'})
      continue
    }
    progress(`${name}: context ${context}, batch ${batch}`)
    const started = performance.now()
    try {
      out({...base, status: 'ok', ...(await timeCell(model, context, batch, opts))})
    } catch (err) {
      failedAt.set(context, Math.min(batch, failedAt.get(context) ?? Infinity))
      out({...base, status: 'error', error: (err as Error).message.split('\n')[0]})
    }
    lastMs = performance.now() - started
  }
  return lines
}

/**
 * The device-to-host round trip of a step's readback alone (copy, submit, map, as `read` does): a fixed cost per
 * step, hidden while steps are pipelined unless it outlasts the step's GPU work.
 */
async function readbackLatency(backend: Backend): Promise<number> {
  const probe = fromArray(backend, new Int32Array(4), [4])
  try {
    await probe.toArray()
    const times: number[] = []
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now()
      await probe.toArray()
      times.push(performance.now() - t0)
    }
    return times.sort((a, b) => a - b)[10]
  } finally {
    probe.dispose()
  }
}

function dims(model: LoadedModel): {hiddenSize: number; vocabSize: number} {
  const c = model instanceof TeacherModel ? model.config : model instanceof HybridModel ? model.config.teacher : model.config
  return {hiddenSize: c.hiddenSize, vocabSize: model.vocabSize}
}

/** Bytes per sequence of the largest tensor a cache of `capacity` positions holds. */
function largestCacheTensorBytes(model: LoadedModel, capacity: number, kvDtype: KvCacheDtype): number {
  const cache = model.newCache(1, capacity, {kvDtype})
  try {
    let largest = 0
    for (const layer of cache.layers) {
      const tensors: Tensor[] = [...(layer.kv ? [layer.kv.k, layer.kv.v] : []), ...Object.values(layer.ssm?.state ?? {})]
      for (const t of tensors) largest = Math.max(largest, t.numel * bytesPerValue(t.dtype))
    }
    return largest
  } finally {
    cache.dispose()
  }
}

async function timeCell(model: LoadedModel, L: number, B: number, opts: SweepOptions): Promise<Partial<SweepLine>> {
  const backend: Backend = model.backend
  const gpu = backend instanceof WebGpuBackend ? backend : undefined
  await gpu?.trimPool()
  const before = gpu?.allocatedBytes ?? 0
  const cache = model.newCache(B, L + WARMUP_STEPS + opts.steps, {kvDtype: opts.kvCacheDtype})
  // Every forward at the sweep's precision (withPrecision is synchronous, as encoding a forward is).
  const forward = (ids: Tensor): Tensor => withPrecision(opts.precision ?? 'f32', () => model.forwardCached(ids, cache, {lastOnly: true}).logits)
  try {
    const measured = gpu ? (gpu.allocatedBytes - before) / B : undefined
    const {kv, ssm} = cache.bytesByKind()
    const rng = new Random(L, B)
    const V = model.vocabSize
    const result: Partial<SweepLine> = {state_bytes_per_seq: (kv + ssm) / B, measured_bytes_per_seq: measured}
    if (B * L <= opts.prefillTokens) {
      const chunk = Math.max(1, Math.floor(PREFILL_CHUNK_TOKENS / B))
      await backend.sync()
      const t0 = performance.now()
      for (let start = 0; start < L; start += chunk) {
        const t = Math.min(chunk, L - start)
        const ids = Int32Array.from({length: B * t}, () => rng.int(V))
        await scopeAsync(async () => forward(fromArray(backend, ids, [B, t])).toArray())
      }
      result.prefill = 'real'
      result.prefill_tok_s = (B * L) / ((performance.now() - t0) / 1000)
    } else {
      cache.advance(L)
      result.prefill = 'skipped'
    }
    // Greedy steps as generate() makes them without a hook: each step's ids stay on the device as the next
    // step's input, and a step is encoded and submitted (its read started) before the previous one's ids are read.
    const draws = new Int32Array(B)
    let encodeMs = 0
    const launch = (input: Tensor): Tensor => {
      const t0 = performance.now()
      const next = scope(() => {
        const d = fromArray(backend, draws, [B])
        const logits = forward(input.reshape([B, 1]))
        return keep(sampleTokens(logits.reshape([B, V]), d, 0))
      })
      encodeMs += performance.now() - t0
      return next
    }
    let tokens = keep(fromArray(backend, Int32Array.from({length: B}, () => rng.int(V)), [B]))
    // Two reads are in flight: one that fails while the other is awaited must not go unhandled (it is awaited in turn).
    const readIds = (t: Tensor): Promise<unknown> => {
      const ids = t.toArray()
      ids.catch(() => undefined)
      return ids
    }
    // Up to `count` steps, fewer once performance.now() passes `untilMs` and `least` have run; returns how many ran.
    const steps = async (count: number, least = count, untilMs = Infinity): Promise<number> => {
      let read = readIds(tokens)
      let ran = 0
      while (ran < count && (ran < least || performance.now() < untilMs)) {
        const next = launch(tokens)
        const nextRead = readIds(next)
        await read
        tokens.dispose()
        tokens = next
        read = nextRead
        ran++
      }
      await read
      return ran
    }
    let seconds: number
    let timed: number
    try {
      await steps(WARMUP_STEPS)
      encodeMs = 0
      const t0 = performance.now()
      timed = await steps(opts.steps, Math.min(MIN_TIMED_STEPS, opts.steps), t0 + 1000 * (opts.cellSeconds ?? Infinity))
      seconds = (performance.now() - t0) / 1000
    } finally {
      tokens.dispose()
    }
    result.decode_tok_s = (B * timed) / seconds
    result.step_ms = (seconds * 1000) / timed
    result.timed_steps = timed
    result.encode_ms = encodeMs / timed
    return result
  } finally {
    cache.dispose()
  }
}
