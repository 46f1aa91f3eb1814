import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {FormatError} from '../errors.js'

/** What a model folder says about its tokenizer beyond tokenizer.json: served at GET /tokenizer_info, and the chat template. */
export interface TokenizerConfig {
  /** tokenizer_config.json as vLLM's /tokenizer_info returns it: special tokens as strings, `tokenizer_class`, `chat_template`. */
  info: Record<string, unknown>
  /** The Jinja chat template, if the model has one. */
  chatTemplate?: string
}

/**
 * Reads `tokenizer_config.json` and the chat template, where transformers keeps it:
 * `chat_template.jinja` beside the config (transformers >= 4.43 saves it there), else the
 * config's `chat_template` (a string, or a list of named templates of which 'default' is used).
 */
export async function readTokenizerConfig(folder: string): Promise<TokenizerConfig> {
  const path = join(folder, 'tokenizer_config.json')
  const config = await readOptional(path).then((text) => {
    if (text === undefined) return {}
    try {
      const parsed = JSON.parse(text) as unknown
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>
    } catch {
      // reported below
    }
    throw new FormatError(`${path} is not a JSON object`)
  })
  const chatTemplate = (await readOptional(join(folder, 'chat_template.jinja'))) ?? templateFromConfig(config.chat_template)
  const info: Record<string, unknown> = {tokenizer_class: 'PreTrainedTokenizerFast'}
  for (const [key, value] of Object.entries(config)) {
    if (key === 'added_tokens_decoder' || key === 'chat_template') continue
    // Special tokens may be saved as AddedToken objects ({"content": "</s>", ...}); clients read them as strings.
    info[key] = key.endsWith('_token') && value && typeof value === 'object' && 'content' in value ? (value as {content: unknown}).content : value
  }
  if (chatTemplate !== undefined) info.chat_template = chatTemplate
  return {info, chatTemplate}
}

function templateFromConfig(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (Array.isArray(value)) {
    const named = value.find((t): t is {name: string; template: string} => t?.name === 'default' && typeof t.template === 'string')
    return named?.template
  }
  return undefined
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}
