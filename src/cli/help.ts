import {CommandHelp, Help} from '@oclif/core'

/**
 * oclif's help, wrapped so that no word is ever cut (oclif wraps with `hard: true`, which broke
 * `tokenizer_backend` in `serve --help` into "tokenize" and "r_backend") and so that the
 * descriptions, hard-wrapped at 100 columns in the source, are refilled to the terminal's width
 * instead of being cut again into ragged lines. Lines that start with whitespace (commands, YAML,
 * lists) are kept as written: a command that does not fit runs past the edge rather than break.
 */
export default class HybridizeHelp extends Help {
  protected override CommandHelpClass = HybridizeCommandHelp

  override wrap(body: string, spacing = this.indentSpacing): string {
    return refill(this.render(body), this.opts.maxWidth - spacing)
  }
}

class HybridizeCommandHelp extends CommandHelp {
  /** True while the usage is rendered: its indented lines are oclif's continuations, not commands. */
  private inUsage = false

  override wrap(body: string, spacing = this.indentSpacing): string {
    return refill(this.render(body), this.opts.maxWidth - spacing, {wrapIndented: this.inUsage})
  }

  protected override usage(): string {
    this.inUsage = true
    try {
      return super.usage()
    } finally {
      this.inUsage = false
    }
  }
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g

/**
 * Joins the prose lines of each paragraph and wraps them at spaces to `width`. A line that starts
 * with whitespace (a command, YAML, a list) is kept as written, or with `wrapIndented` (oclif's
 * usage lines) wrapped on its own at spaces, its continuations indented as it is. One that starts
 * with '<' or '[' (oclif's `<options: ...>`, `[default: ...]`) starts a new line of prose rather
 * than joining the one before.
 */
export function refill(text: string, width: number, options: {wrapIndented?: boolean} = {}): string {
  const out: string[] = []
  let prose: string[] = []
  const flush = (): void => {
    if (prose.length > 0) out.push(...wrapWords(prose.join(' '), width))
    prose = []
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      flush()
      out.push('')
      continue
    }
    if (/^\s/.test(line)) {
      flush()
      const indent = /^\s*/.exec(line)![0]
      out.push(...(options.wrapIndented ? wrapWords(line.trim(), width - indent.length).map((l) => indent + l) : [line.trimEnd()]))
      continue
    }
    if (/^[<[]/.test(line)) flush()
    prose.push(line.trim())
  }
  flush()
  return out.join('\n')
}

function wrapWords(text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  // Runs of spaces inside a line (aligned YAML comments) are kept; only the spaces a line breaks at go.
  for (const word of text.split(/(?<=\S) (?=\S)/)) {
    const candidate = line === '' ? word : `${line} ${word}`
    if (line !== '' && candidate.replace(ANSI, '').length > width) {
      lines.push(line)
      line = word
    } else {
      line = candidate
    }
  }
  if (line !== '') lines.push(line)
  return lines
}
