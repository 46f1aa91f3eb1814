import type {TextTokenizer} from '../tokenizer/load.js'

/**
 * Text turned into one endless run of token ids, documents separated by the end-of-text token,
 * handed out `n` at a time. Tokens read but not yet handed out are the `carry`; together with the
 * source's own cursor they are the whole resumable position.
 */
export interface PieceSource<Cursor> {
  next(): Promise<{text: string; endsDocument: boolean}>
  readonly cursor: Cursor
  close(): Promise<void>
}

export interface StreamPosition<Cursor> {
  cursor: Cursor
  carry: number[]
}

export class TokenStream<Cursor> {
  private carry: number[]

  constructor(
    private readonly source: PieceSource<Cursor>,
    private readonly tokenizer: TextTokenizer,
    private readonly eosId: number,
    carry: number[] = [],
    /**
     * Never split a document across two takes when it fits in one: the take is filled up with
     * end-of-text tokens instead, and the document starts the next. For task samples, whose
     * answer is useless without the prompt before it. (Pieces must then be whole documents.)
     */
    private readonly wholeDocuments = false,
  ) {
    this.carry = [...carry]
  }

  /** The next `n` tokens. */
  async take(n: number): Promise<number[]> {
    if (this.wholeDocuments) return this.takeWhole(n)
    while (this.carry.length < n) this.carry.push(...(await this.nextTokens()))
    return this.carry.splice(0, n)
  }

  private async takeWhole(n: number): Promise<number[]> {
    const row: number[] = []
    while (row.length < n) {
      if (this.carry.length === 0) this.carry = await this.nextTokens()
      if (row.length + this.carry.length <= n || (row.length === 0 && this.carry.length > n)) {
        row.push(...this.carry.splice(0, n - row.length))
      } else {
        while (row.length < n) row.push(this.eosId)
      }
    }
    return row
  }

  private async nextTokens(): Promise<number[]> {
    const piece = await this.source.next()
    const ids = piece.text === '' ? [] : this.tokenizer.encode(piece.text, {addSpecialTokens: false})
    if (piece.endsDocument) ids.push(this.eosId)
    return ids
  }

  get position(): StreamPosition<Cursor> {
    return {cursor: this.source.cursor, carry: [...this.carry]}
  }

  async close(): Promise<void> {
    await this.source.close()
  }
}
