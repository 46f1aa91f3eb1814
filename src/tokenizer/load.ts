import {access, readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {Tokenizer} from '@huggingface/tokenizers'
import {FormatError, HybridizeError} from '../errors.js'

/**
 * A model folder's tokenizer: `tokenizer.json` plus `tokenizer_config.json`, as transformers saves
 * them, run by @huggingface/tokenizers (pure JS, no I/O of its own, so offline by construction).
 */
export interface TextTokenizer {
  encode(text: string, options?: {addSpecialTokens?: boolean}): number[]
  decode(ids: number[], options?: {skipSpecialTokens?: boolean}): string
  tokenToId(token: string): number | undefined
  /** The vocabulary entry of an id, as stored (e.g. 'Ġthe' in byte-level BPE), as transformers' convert_ids_to_tokens gives it. */
  idToToken?(id: number): string | undefined
  readonly vocabSize: number
}

export async function loadTokenizer(folder: string): Promise<TextTokenizer> {
  const tokenizerJson = await readJson(join(folder, 'tokenizer.json'))
  if (!tokenizerJson) throw await missingTokenizer(folder)
  const config = (await readJson(join(folder, 'tokenizer_config.json'))) ?? {}
  let tok: Tokenizer
  try {
    tok = new Tokenizer(tokenizerJson!, config)
  } catch (err) {
    throw new FormatError(`${join(folder, 'tokenizer.json')}: not a tokenizer this version understands (${(err as Error).message})`)
  }
  return {
    encode: (text, options = {}) => tok.encode(text, {add_special_tokens: options.addSpecialTokens ?? true}).ids,
    decode: (ids, options = {}) => tok.decode(ids, {skip_special_tokens: options.skipSpecialTokens ?? false}),
    tokenToId: (token) => tok.token_to_id(token),
    idToToken: (id) => tok.id_to_token(id),
    vocabSize: tok.get_vocab(true).size,
  }
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    throw new FormatError(`${path} is not valid JSON`)
  }
}

/** Say what is missing: a folder without config.json is not a model folder at all, whatever its tokenizer. */
async function missingTokenizer(folder: string): Promise<HybridizeError> {
  const hasConfig = await access(join(folder, 'config.json')).then(() => true, () => false)
  if (!hasConfig) return new HybridizeError(`${folder} is not a model folder: it has no config.json and no tokenizer.json`, {code: 'E_NO_CONFIG'})
  return new HybridizeError(`${join(folder, 'tokenizer.json')} is missing: the model folder has no tokenizer (use --input with token ids instead of --text)`, {code: 'E_NO_TOKENIZER'})
}
