import {sampleTokens} from '../engine/decode-ops.js'
import {fromArray, scopeAsync} from '../engine/tensor.js'
import {ShapeError} from '../errors.js'
import type {DecodingModel} from '../models/decoding-model.js'
import {Random} from '../util/random.js'
import {sampleToken, type SamplingOptions} from './sampling.js'

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number
  /** Samples drawn together, as one batch. */
  n: number
  seed: number
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
 * forward per new token. Sample i draws from its own stream Random(seed, i), so it does not
 * depend on how many samples run beside it. Without a top-p cut the tokens are drawn on the device
 * and a step reads back n ids; a top-p cut sorts each row on the host, from logits read back.
 */
export async function generate(model: DecodingModel, prompt: readonly number[], opts: GenerateOptions): Promise<GeneratedSample[]> {
  if (prompt.length === 0) throw new ShapeError('generate: the prompt has no tokens')
  const {n, maxNewTokens} = opts
  const V = model.vocabSize
  const eos = new Set(opts.eosTokenIds)
  const rngs = Array.from({length: n}, (_, i) => new Random(opts.seed, i))
  const samples: GeneratedSample[] = Array.from({length: n}, () => ({tokens: [], finishReason: 'length'}))
  const live = new Set(samples.keys())
  if (maxNewTokens === 0) return samples
  await opts.beforeStep?.()
  const cache = model.newCache(n, prompt.length + maxNewTokens)
  try {
    const onDevice = opts.topP >= 1 || opts.temperature <= 0
    // The draws of the samples still running (a finished sample's row is never read).
    const draws = new Int32Array(n)
    // ids [n, t] -> the next token of each row (a finished row's is never used).
    const step = (ids: Int32Array, t: number): Promise<Int32Array> =>
      scopeAsync(async () => {
        // One uniform per live sample, taken from its stream as the host sampler would take it; uploaded
        // before the forward, as a write after encoded kernels would split the step's submit.
        if (onDevice && opts.temperature > 0) for (const i of live) draws[i] = rngs[i].uint32() | 0
        const drawTensor = onDevice ? fromArray(model.backend, draws, [n]) : undefined
        const logits = model.forwardCached(fromArray(model.backend, ids, [n, t]), cache, {lastOnly: true}).logits.reshape([n, V])
        if (drawTensor) return (await sampleTokens(logits, drawTensor, opts.temperature).toArray()) as Int32Array
        const rows = await logits.toFloat32()
        const out = new Int32Array(n)
        for (const i of live) out[i] = sampleToken(rows.subarray(i * V, (i + 1) * V), opts, rngs[i])
        return out
      })
    const batch = new Int32Array(n * prompt.length)
    for (let i = 0; i < n; i++) batch.set(prompt, i * prompt.length)
    let drawn = await step(batch, prompt.length)
    const next = new Int32Array(n)
    for (let produced = 1; ; produced++) {
      for (const i of [...live]) {
        const token = drawn[i]
        // A finished sample keeps feeding its last token so the batch stays rectangular.
        next[i] = token
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
      if (live.size === 0) return samples
      await opts.beforeStep?.()
      drawn = await step(next, 1)
    }
  } finally {
    cache.dispose()
  }
}
