import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {FormatError} from '../errors.js'
import {readConfigJson} from '../models/load.js'

/**
 * The decoding defaults a model folder ships: `generation_config.json` as transformers writes it,
 * falling back to `config.json` for the special tokens.
 */
export interface GenerationDefaults {
  /** Generation stops at any of these. */
  eosTokenIds: number[]
  bosTokenId?: number
  /** Sampling settings when the folder asks for sampling (`do_sample: true`); greedy otherwise. */
  temperature: number
  topP: number
}

export async function readGenerationDefaults(folder: string): Promise<GenerationDefaults> {
  const config = await readConfigJson(folder)
  const path = join(folder, 'generation_config.json')
  let gen: Record<string, unknown> = {}
  try {
    gen = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new FormatError(`${path} is not valid JSON`)
  }
  const ids = (v: unknown): number[] => (typeof v === 'number' ? [v] : Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : [])
  const eos = ids(gen.eos_token_id ?? config.eos_token_id)
  const bos = ids(gen.bos_token_id ?? config.bos_token_id)[0]
  const sample = gen.do_sample === true
  return {
    eosTokenIds: eos,
    bosTokenId: bos,
    temperature: sample && typeof gen.temperature === 'number' ? gen.temperature : sample ? 1 : 0,
    topP: sample && typeof gen.top_p === 'number' ? gen.top_p : 1,
  }
}
