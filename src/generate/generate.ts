import {sampleTokens} from '../engine/decode-ops.js'
import {withPrecision, type Precision} from '../engine/precision.js'
import {fromArray, keep, scope, scopeAsync, Tensor} from '../engine/tensor.js'
import {ShapeError} from '../errors.js'
import type {DecodeCache, KvCacheDtype} from '../models/decode-cache.js'
import type {DecodingModel} from '../models/decoding-model.js'
import {checkFiniteLogits, nonFiniteLogitsError} from '../models/finite.js'
import {Random} from '../util/random.js'
import {sampleToken, type SamplingOptions} from './sampling.js'

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number
  /** Samples drawn together, as one batch. */
  n: number
  seed: number
  /** Linear layers' matmuls (engine/precision.ts): 'mixed' reads f16 weights, as torch decodes a half-precision model; f32 when absent. */
  precision?: Precision
  /** Attention's key/value cache (models/decode-cache.ts): f32 when absent. */
  kvCacheDtype?: KvCacheDtype
  /** Sample i draws from stream firstStream + i (default 0): batches of one request's samples stay independent. */
  firstStream?: number
  /** A sample ends at the first of these (which is not kept in its tokens). */
  eosTokenIds: readonly number[]
  /** Ends a sample early (finish reason 'stop') when true after a token is added, e.g. at a stop string. */
  stopWhen?: (sample: number, tokens: readonly number[]) => boolean
  /** Called with each new token as soon as it is drawn. */
  onToken?: (sample: number, token: number) => void
  /** Called when a sample ends. */
  onDone?: (sample: number, result: GeneratedSample) => void
  /**
   * Awaited before the cache is allocated and before every decode step, with no model work
   * pending meanwhile: where a server lets other requests take a turn (tensor scopes are
   * process-wide, so two requests' model work must never interleave).
   */
  beforeStep?: () => Promise<void>
}

export interface GeneratedSample {
  tokens: number[]
  finishReason: 'eos' | 'stop' | 'length'
}

/**
 * Continue `prompt` n times: one prefill of the prompt for the whole batch, then one cached
 * forward per new token. Sample i draws from its own stream Random(seed, firstStream + i), so it
 * does not depend on how many samples run beside it. Without a top-k or top-p cut the tokens are drawn on the device
 * (a step reads back n ids) and feed the next step there; a top-p cut sorts each row on the host,
 * from logits read back. Without a `beforeStep` hook, each step is encoded and submitted before
 * the previous step's ids reach the host, so the device does not wait on the host between steps.
 */
export async function generate(model: DecodingModel, prompt: readonly number[], opts: GenerateOptions): Promise<GeneratedSample[]> {
  if (prompt.length === 0) throw new ShapeError('generate: the prompt has no tokens')
  const {n, maxNewTokens} = opts
  const eos = new Set(opts.eosTokenIds)
  const rngs = Array.from({length: n}, (_, i) => new Random(opts.seed, (opts.firstStream ?? 0) + i))
  const samples: GeneratedSample[] = Array.from({length: n}, () => ({tokens: [], finishReason: 'length'}))
  const live = new Set(samples.keys())
  if (maxNewTokens === 0) return samples
  await opts.beforeStep?.()
  const cache = model.newCache(n, prompt.length + maxNewTokens, {kvDtype: opts.kvCacheDtype})
  const batch = new Int32Array(n * prompt.length)
  for (let i = 0; i < n; i++) batch.set(prompt, i * prompt.length)
  // Takes the next token of each live sample; false once every sample has ended.
  const take = (drawn: Int32Array, produced: number): boolean => {
    for (const i of [...live]) {
      const token = drawn[i]
      // The device sampler marks a row whose logits hold a NaN or an infinity.
      if (token < 0) throw nonFiniteLogitsError()
      if (eos.has(token)) {
        samples[i].finishReason = 'eos'
      } else {
        samples[i].tokens.push(token)
        opts.onToken?.(i, token)
        if (opts.stopWhen?.(i, samples[i].tokens)) samples[i].finishReason = 'stop'
        else if (produced < maxNewTokens) continue
      }
      live.delete(i)
      opts.onDone?.(i, samples[i])
    }
    return live.size > 0
  }
  try {
    if ((opts.topP >= 1 && !opts.topK) || opts.temperature <= 0) await decodeOnDevice(model, cache, batch, opts, rngs, live, take)
    else await decodeOnHost(model, cache, batch, opts, rngs, live, take)
    return samples
  } finally {
    cache.dispose()
  }
}

type Take = (drawn: Int32Array, produced: number) => boolean

/** The logits of each row's last new position, [n, 1, V], the cache advanced; at the decode's precision. */
function lastLogits(model: DecodingModel, ids: Tensor, cache: DecodeCache, opts: GenerateOptions): Tensor {
  return withPrecision(opts.precision ?? 'f32', () => model.forwardCached(ids, cache, {lastOnly: true}).logits)
}

/**
 * Tokens drawn on the device: each step's ids [n] stay there as the next step's input (a finished
 * sample's row runs on, unread: rows do not mix) and only they are read back.
 */
async function decodeOnDevice(model: DecodingModel, cache: DecodeCache, prompt: Int32Array, opts: GenerateOptions, rngs: Random[], live: Set<number>, take: Take): Promise<void> {
  const {n, temperature} = opts
  const draws = new Int32Array(n)
  // Encode a forward of ids [n, t] and the draw of each row's next token -> ids [n] (kept: the caller disposes).
  const launch = (ids: Tensor | Int32Array, t: number): Tensor =>
    scope(() => {
      // One uniform per live sample, from its stream as the host sampler takes it (a sample that ended in the
      // step still being read may take one more: its stream is not used again). Uploaded before the forward,
      // as a write after encoded kernels would split the step's submit.
      if (temperature > 0) for (const i of live) draws[i] = rngs[i].uint32() | 0
      const d = fromArray(model.backend, draws, [n])
      const input = ids instanceof Tensor ? ids.reshape([n, t]) : fromArray(model.backend, ids, [n, t])
      const logits = lastLogits(model, input, cache, opts)
      return keep(sampleTokens(logits.reshape([n, model.vocabSize]), d, temperature))
    })
  const read = (t: Tensor): Promise<Int32Array> => {
    const ids = t.toArray() as Promise<Int32Array>
    // Awaited below; this branch only keeps an early exit from leaving a rejection unhandled.
    ids.catch(() => undefined)
    return ids
  }
  const pipelined = !opts.beforeStep
  let tokens: Tensor | undefined = launch(prompt, prompt.length / n)
  let next: Tensor | undefined
  let nextIds: Promise<Int32Array> | undefined
  // Reading a step's ids submits it: started as soon as it is encoded, so the device queues the
  // step behind the one running and never idles while the host waits for a readback.
  const launchNext = (): void => {
    next = launch(tokens!, 1)
    nextIds = read(next)
  }
  try {
    let ids = read(tokens)
    for (let produced = 1; ; produced++) {
      if (pipelined && produced < opts.maxNewTokens) launchNext()
      if (!take(await ids, produced)) return
      await opts.beforeStep?.()
      if (!next) launchNext()
      tokens.dispose()
      tokens = next!
      ids = nextIds!
      next = nextIds = undefined
    }
  } finally {
    tokens?.dispose()
    next?.dispose()
  }
}

/** Tokens drawn on the host from each step's logits read back (a top-p cut sorts the row). */
async function decodeOnHost(model: DecodingModel, cache: DecodeCache, prompt: Int32Array, opts: GenerateOptions, rngs: Random[], live: Set<number>, take: Take): Promise<void> {
  const {n} = opts
  const V = model.vocabSize
  const step = (ids: Int32Array, t: number): Promise<Int32Array> =>
    scopeAsync(async () => {
      const rows = await lastLogits(model, fromArray(model.backend, ids, [n, t]), cache, opts).toFloat32()
      checkFiniteLogits(rows, V)
      const out = new Int32Array(n)
      for (const i of live) out[i] = sampleToken(rows.subarray(i * V, (i + 1) * V), opts, rngs[i])
      return out
    })
  let drawn = await step(prompt, prompt.length / n)
  for (let produced = 1; take(drawn, produced); produced++) {
    await opts.beforeStep?.()
    // A finished sample's row runs on (token 0), unread, so the batch stays rectangular.
    drawn = await step(drawn, 1)
  }
}
