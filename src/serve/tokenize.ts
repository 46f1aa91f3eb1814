import {parseMessages, type ChatTemplate} from './chat-template.js'
import {bodyFields} from './completion-request.js'
import type {CompletionEngine} from './completions.js'
import {HttpError} from './http-error.js'

/**
 * vLLM's `POST /tokenize`: {prompt, add_special_tokens = true} or {messages,
 * add_generation_prompt = true, add_special_tokens = false} (rendered by the chat template), with
 * `return_token_strs` -> {count, max_model_len, tokens, token_strs}. lm-evaluation-harness's
 * remote tokenizer calls it with add_special_tokens false. The text is bounded by the body limit
 * only: unlike a prompt, it may be longer than the context (lm-eval tokenizes whole documents).
 */
export function tokenize(engine: CompletionEngine, template: ChatTemplate, body: unknown) {
  const f = bodyFields(body)
  let text: string
  let addSpecialTokens: boolean
  if (f.present('messages')) {
    text = template.render(parseMessages(f.raw.messages), f.bool('add_generation_prompt', true))
    addSpecialTokens = f.bool('add_special_tokens', false)
  } else {
    if (typeof f.raw.prompt !== 'string') throw new HttpError(400, "'prompt' must be a string (or send 'messages')", 'prompt')
    text = f.raw.prompt
    addSpecialTokens = f.bool('add_special_tokens', true)
  }
  const tokens = engine.tokenizer.encode(text, {addSpecialTokens})
  const tokenStrs = f.bool('return_token_strs', false) ? tokens.map((id) => engine.tokenizer.idToToken?.(id) ?? engine.tokenizer.decode([id])) : null
  return {count: tokens.length, max_model_len: engine.maxPositions, tokens, token_strs: tokenStrs}
}

/** vLLM's `POST /detokenize`: {tokens} -> {prompt}, special tokens kept, as vLLM decodes. */
export function detokenize(engine: CompletionEngine, body: unknown) {
  const {raw} = bodyFields(body)
  const V = engine.tokenizer.vocabSize
  if (!Array.isArray(raw.tokens) || !raw.tokens.every((id) => Number.isInteger(id))) throw new HttpError(400, "'tokens' must be a list of token ids", 'tokens')
  const bad = (raw.tokens as number[]).find((id) => id < 0 || id >= V)
  if (bad !== undefined) throw new HttpError(400, `token id ${bad} is outside the vocabulary (0..${V - 1})`, 'tokens')
  return {prompt: engine.tokenizer.decode(raw.tokens as number[])}
}
