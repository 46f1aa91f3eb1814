import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {FormatError} from '../errors.js'
import {GENERATION_FIELDS} from '../models/config-fields.js'
import {readFields} from '../models/config-validate.js'
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
  let json: unknown = {}
  try {
    json = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new FormatError(`${path} is not valid JSON`)
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new FormatError(`${path} is not a JSON object`)
  const gen = readFields(json as Record<string, unknown>, GENERATION_FIELDS, {family: 'generation', where: path})
  // config.json's own ids were checked when the model's config was parsed; only numbers are taken here.
  const ids = (v: unknown): number[] => (typeof v === 'number' ? [v] : Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : [])
  const eos = ids(gen.eos_token_id ?? config.eos_token_id)
  const bos = ids(gen.bos_token_id ?? config.bos_token_id)[0]
  const sample = gen.do_sample === true
  return {
    eosTokenIds: eos,
    bosTokenId: bos,
    temperature: sample ? ((gen.temperature as number | undefined) ?? 1) : 0,
    topP: sample ? ((gen.top_p as number | undefined) ?? 1) : 1,
  }
}
