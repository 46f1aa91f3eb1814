import type {Span} from './types.js'

/** Appends text to a prompt and says where each piece landed, for the spans of a TaskSample. */
export class PromptBuilder {
  private text = ''

  append(piece: string): Span {
    const start = this.text.length
    this.text += piece
    return {start, end: this.text.length}
  }

  toString(): string {
    return this.text
  }
}
