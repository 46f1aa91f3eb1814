import {readFile} from 'node:fs/promises'
import {basename} from 'node:path'
import {FormatError} from '../../errors.js'
import {jsonlObjects} from './jsonl-objects.js'
import {arithmeticProblems} from '../../tasks/arithmetic-cot.js'
import {extractAnswer} from '../answer-extraction.js'

/** One problem of a generation task: the prompt sampled from, the reference answer, and its number. */
export interface GenerationDoc {
  prompt: string
  /** The reference answer as written (a chain of thought ending in `#### n`, or just the number). */
  answer: string
  /** The number extracted from `answer` (answer-extraction.ts), which a sample must reproduce. */
  gold: string
  /** The line as written: lm-eval's `doc`. */
  doc: Record<string, unknown>
}

export const ARITHMETIC_TASK = 'arith-cot'

/**
 * `gen:<file.jsonl>`: one problem a line, `{"prompt": "...", "answer": "..."}`; the answer's number
 * (its `#### n` line, else its last number) is the gold answer. A line without one is an error
 * naming it, as is a file without problems.
 */
export function parseGenerationJsonl(text: string, file: string): GenerationDoc[] {
  const docs: GenerationDoc[] = []
  for (const {doc, where} of jsonlObjects(text, file)) {
    if (typeof doc.prompt !== 'string' || doc.prompt === '') throw new FormatError(`${where}: "prompt" must be a non-empty string`)
    if (typeof doc.answer !== 'string' && typeof doc.answer !== 'number') throw new FormatError(`${where}: "answer" must be a string or a number`)
    const answer = String(doc.answer)
    const gold = extractAnswer(answer)
    if (gold === undefined) throw new FormatError(`${where}: "answer" holds no number (write it as "#### 42" or "42")`)
    docs.push({prompt: doc.prompt, answer, gold, doc})
  }
  if (docs.length === 0) throw new FormatError(`${file}: no problems`)
  return docs
}

/** The task's name (gen:<file name>, or arith-cot) and its problems. */
export async function loadGenerationDocs(spec: string, seed: number): Promise<{name: string; docs: GenerationDoc[]}> {
  if (spec === ARITHMETIC_TASK) {
    return {name: ARITHMETIC_TASK, docs: arithmeticProblems(seed).map((p) => ({...p, gold: extractAnswer(p.answer)!, doc: {...p}}))}
  }
  const file = spec.slice('gen:'.length)
  return {name: `gen:${basename(file)}`, docs: parseGenerationJsonl(await readFile(file, 'utf8'), file)}
}
