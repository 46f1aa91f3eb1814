import {Template} from '@huggingface/jinja'
import {HttpError} from './http-error.js'
import type {TokenizerConfig} from './tokenizer-info.js'

export interface ChatMessage {
  role: string
  content: string
}

/**
 * `messages` of an OpenAI chat request, checked: each a {role, content} where content is text or a
 * list of text parts (joined with newlines, as vLLM's "string" content format does).
 */
export function parseMessages(value: unknown): ChatMessage[] {
  const bad = (why: string) => new HttpError(400, `'messages' ${why}`, 'messages')
  if (!Array.isArray(value) || value.length === 0) throw bad('must be a non-empty list of {"role", "content"} objects')
  return value.map((m: unknown, i) => {
    if (!m || typeof m !== 'object' || typeof (m as {role?: unknown}).role !== 'string') throw bad(`[${i}] must be an object with a string 'role'`)
    const {role, content} = m as {role: string; content?: unknown}
    if (typeof content === 'string') return {role, content}
    if (content === null || content === undefined) return {role, content: ''}
    if (Array.isArray(content) && content.every((p) => p?.type === 'text' && typeof p.text === 'string')) return {role, content: content.map((p: {text: string}) => p.text).join('\n')}
    throw bad(`[${i}].content must be text or a list of {"type": "text", "text": ...} parts (this server has no images or audio)`)
  })
}

/** Renders chat messages with a model's chat template (Jinja, as transformers' apply_chat_template does). */
export class ChatTemplate {
  private readonly template?: Template
  private readonly specialTokens: Record<string, string>
  /** Why the template does not parse, if it does not. */
  private readonly broken?: string

  constructor(config: TokenizerConfig | undefined) {
    const source = config?.chatTemplate
    if (source !== undefined) {
      try {
        this.template = new Template(source)
      } catch (err) {
        // A broken template is the model folder's fault; every chat request will say so.
        this.broken = (err as Error).message
      }
    }
    this.specialTokens = Object.fromEntries(Object.entries(config?.info ?? {}).filter((e): e is [string, string] => e[0].endsWith('_token') && typeof e[1] === 'string'))
  }

  /** The prompt text for `messages`; with addGenerationPrompt, ending where the assistant's reply begins. */
  render(messages: ChatMessage[], addGenerationPrompt: boolean): string {
    if (this.broken !== undefined) throw new HttpError(400, `this model's chat template does not parse (${this.broken}); use /v1/completions`, 'messages')
    if (!this.template) {
      throw new HttpError(400, "this model has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja); use /v1/completions with your own prompt format", 'messages')
    }
    try {
      return this.template.render({...this.specialTokens, messages, add_generation_prompt: addGenerationPrompt})
    } catch (err) {
      // raise_exception(...) in a template is how it refuses a conversation (e.g. roles out of order).
      throw new HttpError(400, `the chat template refused these messages: ${(err as Error).message}`, 'messages')
    }
  }
}
