import type {Random} from '../util/random.js'
import {arithmeticParts, problemText, stepText} from './arithmetic-cot.js'
import type {RetrievalTask, Span, TaskSample} from './types.js'

/** No options: the problems are arith-cot's. */
export type ArithLookupOptions = Record<never, never>

/**
 * The lookup inside arith-cot's chain of thought: an arith-cot problem and its answer written up to
 * a number the answer copies from the question, which is the answer to score:
 *
 *     Question: Mia has 7 shells. Mia finds 5 more. Mia buys 3 bags of 4 shells each. How many ...
 *     Answer: Mia starts with 7 shells. 7 + 5 = 12. 3 *          -> ' 4'
 *
 * The choices are the question's numbers, as ' 4'-style continuations in increasing order; the
 * segments are the question's sentences, the answer's segment the one the number comes from. Which
 * number is asked is uniform over the answer's copies (the start amount, each amount found or
 * given, each bag count and size); a problem whose question holds fewer than two distinct numbers is
 * drawn again. find-heads --task arith-lookup ranks the heads a reasoner trained on arith-cot copies
 * through; arith-cot's problems come from their own stream (arithmetic-cot.ts), not these.
 */
export const arithLookup: RetrievalTask<ArithLookupOptions> = {
  name: 'arith-lookup',
  defaults: {},
  sample(rng: Random): TaskSample {
    for (;;) {
      const parts = arithmeticParts(rng)
      const copies = parts.steps.flatMap((pieces, step) => pieces.flatMap((piece, at) => (typeof piece === 'string' ? [] : [{step, at, piece}])))
      const numbers = [...new Set(copies.map((c) => c.piece.number))].sort((a, b) => a - b)
      if (numbers.length < 2) continue
      const asked = copies[rng.int(copies.length)]
      const {prompt: question} = problemText(parts)
      const segments = sentenceSpans(parts.question, 'Question: '.length)
      const written = [...parts.steps.slice(0, asked.step).map(stepText), stepText(parts.steps[asked.step].slice(0, asked.at))]
      // The choices carry the space before the number.
      const prompt = `${question} ${written.join(' ')}`.trimEnd()
      const stepStart = question.length + 1 + written.slice(0, -1).reduce((n, text) => n + text.length + 1, 0)
      const query = stepStart < prompt.length ? {start: stepStart, end: prompt.length} : {start: prompt.length - 1, end: prompt.length}
      const choices = numbers.map((n) => ` ${n}`)
      const answerIndex = numbers.indexOf(asked.piece.number)
      return {prompt, answer: choices[answerIndex], choices, answerIndex, segments, answerSegment: asked.piece.sentence, query}
    }
  },
}

/** Spans of sentences joined by single spaces from `offset` on, each ending after its period. */
function sentenceSpans(sentences: readonly string[], offset: number): Span[] {
  let at = offset
  return sentences.map((s) => {
    const span = {start: at, end: at + s.length}
    at += s.length + 1
    return span
  })
}
