import type {TaskName} from '../tasks/index.js'
import type {TextTokenizer} from '../tokenizer/load.js'
import type {Corpus} from './corpus.js'
import {DocumentReader, START, type TextCursor} from './documents.js'
import {sourceOf, TaskSampleSource, type MixEntry, type SampleCursor} from './mix.js'
import {TokenStream, type StreamPosition} from './token-stream.js'

/**
 * Training batches [rows, seqLen] of token ids, packed from the corpus with an end-of-text token
 * between documents; a seeded share of the rows comes from synthetic tasks (`--mix`), whole samples
 * to a row (the rest of the row end-of-text tokens), never a prompt cut from its answer. Everything
 * that decides the next batch is in `position`, a plain JSON value a checkpoint stores: with it a
 * new stream continues with exactly the batches the old one would have produced.
 */
export interface DataPosition {
  /** Sequences handed out so far (decides, with the seed, where the next one comes from). */
  sequences: number
  text: StreamPosition<TextCursor>
  tasks: Partial<Record<TaskName, StreamPosition<SampleCursor>>>
}

export interface BatchStreamOptions {
  corpus: Corpus
  tokenizer: TextTokenizer
  eosId: number
  seqLen: number
  seed: number
  textField?: string
  mix?: MixEntry[]
  position?: DataPosition
}

export class BatchStream {
  private sequences: number
  private readonly text: TokenStream<TextCursor>
  private readonly tasks = new Map<TaskName, TokenStream<SampleCursor>>()

  constructor(private readonly opts: BatchStreamOptions) {
    const pos = opts.position
    this.sequences = pos?.sequences ?? 0
    const reader = new DocumentReader(opts.corpus, opts.seed, opts.textField ?? 'text', pos?.text.cursor ?? START)
    this.text = new TokenStream(reader, opts.tokenizer, opts.eosId, pos?.text.carry)
    for (const entry of opts.mix ?? []) {
      const saved = pos?.tasks[entry.task]
      this.tasks.set(entry.task, new TokenStream(new TaskSampleSource(entry, opts.seed, saved?.cursor), opts.tokenizer, opts.eosId, saved?.carry, true))
    }
  }

  /** The next `rows` sequences as one row-major [rows, seqLen] array. */
  async next(rows: number): Promise<Int32Array> {
    const {seqLen, seed, mix = []} = this.opts
    const ids = new Int32Array(rows * seqLen)
    for (let r = 0; r < rows; r++) {
      const task = sourceOf(mix, seed, this.sequences++)
      const stream = task ? this.tasks.get(task)! : this.text
      ids.set(await stream.take(seqLen), r * seqLen)
    }
    return ids
  }

  get position(): DataPosition {
    const tasks: DataPosition['tasks'] = {}
    for (const [task, stream] of this.tasks) tasks[task] = stream.position
    return {sequences: this.sequences, text: this.text.position, tasks}
  }

  async close(): Promise<void> {
    await this.text.close()
    for (const s of this.tasks.values()) await s.close()
  }
}
