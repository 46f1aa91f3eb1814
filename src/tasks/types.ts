import type {Random} from '../util/random.js'

/** Characters [start, end) of a prompt. */
export interface Span {
  start: number
  end: number
}

/**
 * One retrieval question, as text: any tokenizer can encode it, and scoring happens elsewhere, either by
 * log-likelihood of each choice appended to the prompt (lm-evaluation-harness style) or by last-token argmax.
 */
export interface TaskSample {
  /** Ends right before the answer: no trailing space (the answer continuations carry it). */
  prompt: string
  /** The correct continuation, e.g. ' 42' or ' B'; equals choices[answerIndex]. */
  answer: string
  /** Candidate continuations, all distinct, the answer among them. */
  choices: string[]
  answerIndex: number
  /**
   * The pieces a Gather head compresses, in prompt order: dictionary lines `key:value\n`, option lines `B. word\n`,
   * haystack sentences. Each span ends after the segment's final character (the newline for lines), which is
   * where the segment summary lives.
   */
  segments: Span[]
  /** Index into segments of the one that holds the answer: where an Aggregate head should look. */
  answerSegment: number
  /** Where the prompt's question names what it asks for (the queried key or word). */
  query: Span
}

/** A sample generator. Options not given take `defaults`; all randomness comes from `rng`. */
export interface RetrievalTask<Options extends object> {
  readonly name: string
  readonly defaults: Readonly<Options>
  sample(rng: Random, options?: Partial<Options>): TaskSample
}
