import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {cachedSnapshotOf} from '../hub/model-identity.js'
import type {TextTokenizer} from '../tokenizer/load.js'

/** What lm-evaluation-harness's results record about a model (HFLM.get_model_info, add_tokenizer_info). */
export interface ModelInfo {
  numParameters: number
  /** `<org/name>@<revision>` asked for, else "main" as lm-eval's default. */
  revision: string
  /** The hub commit of a cached snapshot, else "". */
  sha: string
  /** [token, str(id)] as lm-eval writes them; [null, "None"] when the tokenizer has none. */
  padToken: [string | null, string]
  eosToken: [string | null, string]
  bosToken: [string | null, string]
  eotTokenId: number | null
  maxLength: number
}

/** HFLM's max_length when the config names no context length (lm_eval/models/huggingface.py, _DEFAULT_MAX_LENGTH). */
const DEFAULT_MAX_LENGTH = 2048

export async function modelInfo(model: string, folder: string, weights: Iterable<{shape: readonly number[]}>, tokenizer?: TextTokenizer): Promise<ModelInfo> {
  const config = (await readJson(join(folder, 'config.json'))) ?? {}
  const tokConfig = (await readJson(join(folder, 'tokenizer_config.json'))) ?? {}
  const special = (key: string): [string | null, string] => {
    const raw = tokConfig[key]
    const token = typeof raw === 'string' ? raw : typeof (raw as {content?: unknown})?.content === 'string' ? (raw as {content: string}).content : null
    const id = token === null ? undefined : tokenizer?.tokenToId(token)
    return [token, id === undefined ? 'None' : String(id)]
  }
  const eos = special('eos_token')
  // lm-eval's resolve_max_length (lm_eval/models/utils.py): the first context length the config
  // names, else the tokenizer's model_max_length unless it is transformers' "unset" (about 1e30).
  const fromConfig = ['n_positions', 'max_position_embeddings', 'n_ctx'].map((k) => config[k]).find((v) => typeof v === 'number') as number | undefined
  const fromTokenizer = typeof tokConfig.model_max_length === 'number' && tokConfig.model_max_length < 1e18 ? tokConfig.model_max_length : undefined
  let numParameters = 0
  for (const w of weights) numParameters += w.shape.reduce((a, b) => a * b, 1)
  return {
    numParameters,
    revision: /@([^/@]+)$/.exec(model)?.[1] ?? 'main',
    sha: cachedSnapshotOf(folder)?.revision ?? '',
    padToken: special('pad_token'),
    eosToken: eos,
    bosToken: special('bos_token'),
    eotTokenId: eos[1] === 'None' ? null : Number(eos[1]),
    maxLength: fromConfig ?? fromTokenizer ?? DEFAULT_MAX_LENGTH,
  }
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
  } catch {
    // A missing or unreadable file means no such information; loading the model already checked what it needs.
    return undefined
  }
}
