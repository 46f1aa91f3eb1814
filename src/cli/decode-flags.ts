import {Flags} from '@oclif/core'
import {PRECISIONS, type Precision} from '../engine/precision.js'
import {KV_CACHE_DTYPES, type KvCacheDtype} from '../models/decode-cache.js'

/**
 * `--precision` and `--kv-cache-dtype`, shared by the commands that decode (generate, eval, serve):
 * pass their values to `generate` as `precision` and `kvCacheDtype`; eval and serve run their
 * scoring forwards (log-likelihoods, logprobs) at `precision` too.
 */
export const DECODE_FLAGS = {
  precision: Flags.option({
    options: PRECISIONS,
    default: 'f32' as Precision,
    description:
      "Linear layers' matmuls: f32, or mixed: f16 weights with f32 sums (a prompt's rows, and eval's and serve's scoring forwards, as `forward --precision mixed` runs them, on tensor cores where the GPU has subgroup matrices; each new token's rows read the weights' f16 copy, or a bf16/f16 matrix as it was loaded).",
    helpGroup: 'COMPUTE',
  })(),
  'kv-cache-dtype': Flags.option({
    options: KV_CACHE_DTYPES,
    default: 'f32' as KvCacheDtype,
    description: "Attention's key/value cache: f32, or f16 at half the memory a position (keys and values rounded to f16 as they are stored, sums in f32), as transformers caches a half-precision model's.",
    helpGroup: 'COMPUTE',
  })(),
}

/** The stderr line that says how decoding computes. */
export const decodeStatus = (precision: Precision, kvCacheDtype: KvCacheDtype): string => `decoding: linear layers ${precision}, KV cache ${kvCacheDtype}`
