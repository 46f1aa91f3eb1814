import {randomBytes} from 'node:crypto'
import {parseMessages, type ChatTemplate} from './chat-template.js'
import {bodyFields, samplingFields, type CompletionRequest} from './completion-request.js'
import type {CompletionLogprobs, CompletionResponse} from './completions.js'
import {HttpError} from './http-error.js'

const MAX_TOP_LOGPROBS = 20

/**
 * An OpenAI `POST /v1/chat/completions` body as a one-prompt completion request: the messages
 * rendered by the model's chat template (with the assistant's turn opened, unless
 * `add_generation_prompt: false`, vLLM's extension), tokenized without adding special tokens,
 * since the template writes them. `max_completion_tokens` (or the older `max_tokens`) defaults
 * to the room left in the context, as vLLM's does.
 */
export function parseChatRequest(body: unknown, template: ChatTemplate): CompletionRequest {
  const f = bodyFields(body)
  const messages = parseMessages(f.raw.messages)
  const logprobs = f.bool('logprobs', false)
  if (!logprobs && f.present('top_logprobs')) throw new HttpError(400, "'top_logprobs' needs 'logprobs': true", 'top_logprobs')
  const maxKey = f.present('max_completion_tokens') ? 'max_completion_tokens' : 'max_tokens'
  return {
    prompts: [template.render(messages, f.bool('add_generation_prompt', true))],
    addSpecialTokens: f.bool('add_special_tokens', false),
    maxTokens: f.present(maxKey) ? f.int(maxKey, 0, 1, 1 << 20) : undefined,
    ...samplingFields(f),
    echo: false,
    logprobs: logprobs ? f.int('top_logprobs', 0, 0, MAX_TOP_LOGPROBS) : null,
  }
}

export interface ChatTokenLogprob {
  token: string
  logprob: number
  bytes: number[]
}

export interface ChatCompletionResponse {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  choices: {
    index: number
    message: {role: 'assistant'; content: string}
    logprobs: {content: (ChatTokenLogprob & {top_logprobs: ChatTokenLogprob[]})[]} | null
    finish_reason: 'stop' | 'length'
  }[]
  usage: CompletionResponse['usage']
}

/** The completion of a chat request, in the chat shape: choices carry a message, logprobs a list per token. */
export function chatResponse(completion: CompletionResponse): ChatCompletionResponse {
  return {
    id: `chatcmpl-${randomBytes(12).toString('hex')}`,
    object: 'chat.completion',
    created: completion.created,
    model: completion.model,
    choices: completion.choices.map((c) => ({
      index: c.index,
      message: {role: 'assistant', content: c.text},
      logprobs: c.logprobs && chatLogprobs(c.logprobs),
      finish_reason: c.finish_reason,
    })),
    usage: completion.usage,
  }
}

function chatLogprobs(lp: CompletionLogprobs): NonNullable<ChatCompletionResponse['choices'][number]['logprobs']> {
  const entry = (token: string, logprob: number): ChatTokenLogprob => ({token, logprob, bytes: [...Buffer.from(token, 'utf8')]})
  return {
    content: lp.tokens.map((token, i) => ({
      ...entry(token, lp.token_logprobs[i]!),
      top_logprobs: Object.entries(lp.top_logprobs[i] ?? {}).map(([t, v]) => entry(t, v)),
    })),
  }
}
