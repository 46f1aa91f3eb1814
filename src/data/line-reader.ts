import {open, type FileHandle} from 'node:fs/promises'

/**
 * Lines of a file read from a byte offset in fixed-size chunks, so a file of any size streams in
 * constant memory. Each line comes with the byte offset just past it (its newline included): that
 * offset is where a later reader resumes.
 */
export interface Line {
  /** Without the trailing newline. */
  text: string
  /** Byte offset of the next line. */
  end: number
}

const CHUNK_BYTES = 1 << 16
const NEWLINE = 0x0a

export class LineReader {
  private pending = Buffer.alloc(0)
  private readAt: number
  private eof = false
  private readonly decoder = new TextDecoder('utf-8', {fatal: true})

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    /** Byte offset of `pending`'s first byte. */
    private pendingStart: number,
  ) {
    this.readAt = pendingStart
  }

  static async open(path: string, offset = 0): Promise<LineReader> {
    return new LineReader(path, await open(path, 'r'), offset)
  }

  /** The next line, or undefined at the end of the file. A last line without a newline still counts. */
  async next(): Promise<Line | undefined> {
    for (;;) {
      const nl = this.pending.indexOf(NEWLINE)
      if (nl >= 0) return this.take(nl + 1, nl)
      if (this.eof) return this.pending.length > 0 ? this.take(this.pending.length, this.pending.length) : undefined
      await this.fill()
    }
  }

  async close(): Promise<void> {
    await this.handle.close()
  }

  private take(consumed: number, textEnd: number): Line {
    const bytes = this.pending.subarray(0, textEnd)
    let text: string
    try {
      text = this.decoder.decode(bytes)
    } catch {
      throw new InvalidUtf8Error(this.pendingStart)
    }
    this.pending = this.pending.subarray(consumed)
    this.pendingStart += consumed
    return {text: text.endsWith('\r') ? text.slice(0, -1) : text, end: this.pendingStart}
  }

  private async fill(): Promise<void> {
    const chunk = Buffer.alloc(CHUNK_BYTES)
    const {bytesRead} = await this.handle.read(chunk, 0, CHUNK_BYTES, this.readAt)
    if (bytesRead === 0) {
      this.eof = true
      return
    }
    this.readAt += bytesRead
    this.pending = this.pending.length > 0 ? Buffer.concat([this.pending, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead)
  }
}

/** A line that is not UTF-8; `offset` is the byte where it starts. */
export class InvalidUtf8Error extends Error {
  constructor(readonly offset: number) {
    super(`invalid UTF-8 in the line starting at byte ${offset}`)
  }
}
