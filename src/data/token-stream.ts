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
  ) {
    this.carry = [...carry]
  }

  /** The next `n` tokens. */
  async take(n: number): Promise<number[]> {
    while (this.carry.length < n) {
      const piece = await this.source.next()
      if (piece.text !== '') for (const id of this.tokenizer.encode(piece.text, {addSpecialTokens: false})) this.carry.push(id)
      if (piece.endsDocument) this.carry.push(this.eosId)
    }
    return this.carry.splice(0, n)
  }

  get position(): StreamPosition<Cursor> {
    return {cursor: this.source.cursor, carry: [...this.carry]}
  }

  async close(): Promise<void> {
    await this.source.close()
  }
}
