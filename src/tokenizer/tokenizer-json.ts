import {mkdir} from 'node:fs/promises'
import {join} from 'node:path'
import {writeFileAtomic} from '../io/atomic.js'
import {PRE_TOKENIZER_PATTERN} from './pre-tokenize.js'
import type {BpeModel} from './train-bpe.js'

export interface TokenizerConfigOptions {
  /** Defaults to '<|endoftext|>' when the model has it. */
  eosToken?: string
  /** Defaults to the eos token (GPT-2 convention); no BOS is prepended on encode either way. */
  bosToken?: string
  /** Defaults to '<|pad|>' when the model has it. */
  padToken?: string
  modelMaxLength?: number
}

/**
 * `tokenizer.json` in the layout of Hugging Face tokenizers (as GPT-2 and Llama-3 ship it): a BPE model with the
 * vocab and merges, the PRE_TOKENIZER_PATTERN split followed by a ByteLevel pre-tokenizer and decoder, and the
 * special tokens as added tokens. No normalizer, and no post-processor: encode adds no BOS/EOS.
 */
export function toTokenizerJson(model: BpeModel): Record<string, unknown> {
  const firstSpecial = model.vocab.length - model.specialTokens.length
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: model.specialTokens.map((content, i) => ({id: firstSpecial + i, ...addedToken(content)})),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {type: 'Split', pattern: {Regex: PRE_TOKENIZER_PATTERN}, behavior: 'Isolated', invert: false},
        {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false},
      ],
    },
    post_processor: null,
    decoder: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(model.vocab.slice(0, firstSpecial).map((token, id) => [token, id])),
      merges: model.merges,
    },
  }
}

/** `tokenizer_config.json` for transformers' PreTrainedTokenizerFast; decode keeps spaces exactly as encoded. */
export function toTokenizerConfig(model: BpeModel, options: TokenizerConfigOptions = {}): Record<string, unknown> {
  const has = (token: string) => model.specialTokens.includes(token)
  const eos = options.eosToken ?? (has('<|endoftext|>') ? '<|endoftext|>' : undefined)
  const bos = options.bosToken ?? eos
  const pad = options.padToken ?? (has('<|pad|>') ? '<|pad|>' : undefined)
  for (const token of [eos, bos, pad]) {
    if (token !== undefined && !has(token)) throw new RangeError(`toTokenizerConfig: ${token} is not a special token of this model`)
  }
  const firstSpecial = model.vocab.length - model.specialTokens.length
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: bos ?? null,
    eos_token: eos ?? null,
    pad_token: pad ?? null,
    unk_token: null,
    model_max_length: options.modelMaxLength ?? 2048,
    clean_up_tokenization_spaces: false,
    added_tokens_decoder: Object.fromEntries(model.specialTokens.map((content, i) => [String(firstSpecial + i), addedToken(content)])),
  }
}

/** Writes tokenizer.json and tokenizer_config.json into `folder` (created if missing), each atomically. */
export async function writeTokenizer(folder: string, model: BpeModel, options: TokenizerConfigOptions = {}): Promise<void> {
  await mkdir(folder, {recursive: true})
  await writeFileAtomic(join(folder, 'tokenizer.json'), `${JSON.stringify(toTokenizerJson(model), null, 2)}\n`)
  await writeFileAtomic(join(folder, 'tokenizer_config.json'), `${JSON.stringify(toTokenizerConfig(model, options), null, 2)}\n`)
}

function addedToken(content: string) {
  return {content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true}
}
