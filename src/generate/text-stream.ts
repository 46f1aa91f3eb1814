import type {TextTokenizer} from '../tokenizer/load.js'

/** Prompt tokens decoded in front of a continuation, so tokenizers that drop a leading space on the first token keep it. */
const CONTEXT_TOKENS = 4

/** The text of `tokens` as a continuation of `prompt`. */
export function continuationText(tok: TextTokenizer, prompt: readonly number[], tokens: readonly number[]): string {
  const context = prompt.slice(-CONTEXT_TOKENS)
  const before = tok.decode(context, {skipSpecialTokens: true})
  const whole = tok.decode([...context, ...tokens], {skipSpecialTokens: true})
  return whole.startsWith(before) ? whole.slice(before.length) : tok.decode([...tokens], {skipSpecialTokens: true})
}

/**
 * Text of generated tokens as they arrive: each push returns the new characters that are settled.
 * A byte-level token can end in the middle of a UTF-8 character (decoded as U+FFFD); that tail is
 * held back until the next token completes it.
 */
export class TextStream {
  private readonly tokens: number[] = []
  private emitted = 0

  constructor(private readonly tok: TextTokenizer, private readonly prompt: readonly number[]) {}

  push(token: number): string {
    this.tokens.push(token)
    const text = continuationText(this.tok, this.prompt, this.tokens)
    const settled = text.endsWith('\uFFFD') ? text.slice(0, text.search(/\uFFFD+$/)) : text
    return this.take(settled)
  }

  /** Whatever is still held back (at the end of a sample). */
  flush(): string {
    return this.take(continuationText(this.tok, this.prompt, this.tokens))
  }

  private take(text: string): string {
    if (text.length <= this.emitted) return ''
    const out = text.slice(this.emitted)
    this.emitted = text.length
    return out
  }
}
