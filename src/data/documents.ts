import {FormatError, HybridizeError} from '../errors.js'
import {brownTexts} from '../tasks/brown.js'
import {Random} from '../util/random.js'
import type {Corpus} from './corpus.js'
import {InvalidUtf8Error, LineReader} from './line-reader.js'
import {ParquetColumnReader} from './parquet-reader.js'

/**
 * The corpus as an endless stream of text pieces, epoch after epoch, each epoch visiting the
 * files (or Brown documents) in an order shuffled by (seed, epoch). A plain-text file is one
 * document, read a few kilobytes of whole lines at a time; a JSONL line is one document, and so is
 * a parquet row. The cursor after any piece says where to start again, so a stream can stop and
 * resume exactly.
 */
export interface TextCursor {
  epoch: number
  /** Index into the epoch's order of files (or documents). */
  unit: number
  /** Byte offset in that file of the next line to read; in a parquet file, the index of the next row. */
  offset: number
  /** Line number (from 1) of that line, for error messages. */
  line: number
}

export interface Piece {
  text: string
  /** The piece closes a document: an end-of-text token follows it. */
  endsDocument: boolean
}

export const START: TextCursor = {epoch: 0, unit: 0, offset: 0, line: 1}

const PIECE_CHARS = 16_384
const ORDER_STREAM = 0x6f726472

export class DocumentReader {
  private at: TextCursor
  private order: number[] | undefined
  private reader: LineReader | undefined
  private rows: ParquetColumnReader | undefined
  private readonly brown: string[] | undefined
  /** Files or documents passed since the last text: a whole epoch of them means there is none. */
  private emptyUnits = 0

  constructor(
    private readonly corpus: Corpus,
    private readonly seed: number,
    private readonly textField: string,
    cursor: TextCursor = START,
  ) {
    this.at = {...cursor}
    // The train part only: eval's ppl:brown-heldout scores the rest (tasks/brown.ts).
    this.brown = corpus.kind === 'brown' ? brownTexts('train') : undefined
    if (cursor.unit >= this.units) throw new HybridizeError(`the data position (file ${cursor.unit}) is past the ${this.units} files of --data ${corpus.spec}; was the corpus changed?`, {code: 'E_DATA'})
  }

  get cursor(): TextCursor {
    return {...this.at}
  }

  private get units(): number {
    return this.brown ? this.brown.length : (this.corpus as Extract<Corpus, {kind: 'files'}>).files.length
  }

  async next(): Promise<Piece> {
    for (;;) {
      const piece = this.brown ? this.nextBrown() : await this.nextFromFile()
      if (piece) {
        if (piece.text !== '') this.emptyUnits = 0
        return piece
      }
    }
  }

  async close(): Promise<void> {
    await this.reader?.close()
    this.reader = undefined
    this.rows = undefined
  }

  private unitIndex(): number {
    this.order ??= new Random(this.seed, ORDER_STREAM, this.at.epoch).shuffle([...Array(this.units).keys()])
    return this.order[this.at.unit]
  }

  /** Move to the next file or document, and to the next epoch after the last. */
  private advance(): void {
    if (++this.emptyUnits > this.units) throw new HybridizeError(`--data ${this.corpus.spec}: the corpus holds no text`, {code: 'E_DATA'})
    this.at = {epoch: this.at.epoch, unit: this.at.unit + 1, offset: 0, line: 1}
    if (this.at.unit < this.units) return
    this.at = {epoch: this.at.epoch + 1, unit: 0, offset: 0, line: 1}
    this.order = undefined
  }

  private nextBrown(): Piece {
    const text = this.brown![this.unitIndex()]
    this.advance()
    return {text, endsDocument: true}
  }

  /** The next piece of the current file, or undefined when the file ended with nothing left to give. */
  private async nextFromFile(): Promise<Piece | undefined> {
    const file = (this.corpus as Extract<Corpus, {kind: 'files'}>).files[this.unitIndex()]
    if (file.format === 'parquet') return this.nextRow(file.path)
    this.reader ??= await openReader(file.path, this.at.offset)
    const pieces: string[] = []
    let chars = 0
    for (;;) {
      const line = await this.readLine(file.path)
      if (!line) break
      this.at.offset = line.end
      this.at.line++
      if (file.format === 'jsonl') {
        if (line.text.trim() === '') continue
        return {text: this.jsonText(line.text, file.path, this.at.line - 1), endsDocument: true}
      }
      pieces.push(line.text, '\n')
      chars += line.text.length + 1
      if (chars >= PIECE_CHARS) return {text: pieces.join(''), endsDocument: false}
    }
    await this.close()
    this.advance()
    if (file.format === 'jsonl') return undefined
    return {text: pieces.join(''), endsDocument: true}
  }

  /** The next row of a parquet file as one document. */
  private async nextRow(path: string): Promise<Piece | undefined> {
    this.rows ??= await ParquetColumnReader.open(path, this.textField, this.at.offset)
    const next = await this.rows.next()
    if (!next) {
      await this.close()
      this.advance()
      return undefined
    }
    this.at.offset = next.row + 1
    this.at.line = next.row + 2
    if (typeof next.value !== 'string') throw new FormatError(`${path}: row ${next.row}: column "${this.textField}" holds ${next.value === null || next.value === undefined ? 'null' : typeof next.value}, not text`)
    return {text: next.value, endsDocument: true}
  }

  private async readLine(path: string): Promise<{text: string; end: number} | undefined> {
    try {
      return await this.reader!.next()
    } catch (err) {
      if (err instanceof InvalidUtf8Error) throw new FormatError(`${path}:${this.at.line}: not UTF-8 text (byte ${err.offset}); is it a binary file?`)
      throw err
    }
  }

  private jsonText(line: string, path: string, lineNo: number): string {
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (err) {
      throw new FormatError(`${path}:${lineNo}: not valid JSON (${(err as Error).message})`)
    }
    const text = value && typeof value === 'object' ? (value as Record<string, unknown>)[this.textField] : undefined
    if (typeof text !== 'string') throw new FormatError(`${path}:${lineNo}: no string field "${this.textField}" (choose the field with --text-field)`)
    return text
  }
}

async function openReader(path: string, offset: number): Promise<LineReader> {
  try {
    return await LineReader.open(path, offset)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new FormatError(`${path}: the data file is missing (it was listed when the run started)`)
    throw err
  }
}
