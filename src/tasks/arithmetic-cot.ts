import {Random} from '../util/random.js'

/**
 * `arith-cot`: seeded multi-step arithmetic word problems with chain-of-thought answers, in
 * GSM8K's layout (small numbers, so that a fixture-sized model can learn the format). A problem is
 * a start amount and 2 to 4 operations on it (find more, give some away, buy bags of several,
 * double); the answer states each step's sum and ends on GSM8K's answer line `#### n`:
 *
 *   prompt: "Question: Mia has 7 shells. Mia finds 5 more. Mia buys 3 bags of 4 shells each.
 *            How many shells does Mia have now?\nAnswer:"
 *   answer: " Mia starts with 7 shells. 7 + 5 = 12. 3 * 4 = 12, and 12 + 12 = 24.\n#### 24"
 *
 * The prompt is lm-eval gsm8k's doc_to_text ("Question: ...\nAnswer:"); the answer is the target
 * that follows it. Problem i depends only on (seed, i), so --limit takes a prefix of the same set.
 */
export interface ArithmeticProblem {
  prompt: string
  answer: string
}

export const ARITHMETIC_PROBLEMS = 250

const NAMES = ['Mia', 'Leo', 'Ana', 'Sam', 'Kai', 'Zoe', 'Ben', 'Ivy']
const THINGS = ['apples', 'marbles', 'stickers', 'books', 'coins', 'shells']
// A stream tag of this task's own, so its problems do not repeat another seeded task's draws.
const STREAM = 0x617269

/**
 * A problem as its parts: the question's sentences, and the answer's steps as pieces of text and
 * numbers, each number copied from the question naming the sentence it comes from (what
 * arith-lookup asks for).
 */
export interface ArithmeticParts {
  question: string[]
  steps: StepPiece[][]
  total: number
}

export type StepPiece = string | {number: number; sentence: number}

export function arithmeticProblem(seed: number, index: number): ArithmeticProblem {
  return problemText(arithmeticParts(new Random(seed, STREAM, index)))
}

/** The prompt and answer a problem's parts write. */
export function problemText({question, steps, total}: ArithmeticParts): ArithmeticProblem {
  const answer = steps.map(stepText).join(' ')
  return {prompt: `Question: ${question.join(' ')}\nAnswer:`, answer: ` ${answer}\n#### ${total}`}
}

/** One step of the answer as text. */
export function stepText(pieces: readonly StepPiece[]): string {
  return pieces.map((p) => (typeof p === 'string' ? p : String(p.number))).join('')
}

/** A problem drawn from `rng`: a start amount and 2 to 4 operations on it. */
export function arithmeticParts(rng: Random): ArithmeticParts {
  const name = rng.pick(NAMES)
  const thing = rng.pick(THINGS)
  let total = 1 + rng.int(20)
  const question = [`${name} has ${total} ${thing}.`]
  const steps: StepPiece[][] = [[`${name} starts with `, {number: total, sentence: 0}, ` ${thing}.`]]
  const operations = 2 + rng.int(3)
  for (let k = 0; k < operations; k++) {
    const kind = rng.int(4)
    const sentence = question.length
    if (kind === 0) {
      const a = 1 + rng.int(20)
      question.push(`${name} finds ${a} more.`)
      steps.push([`${total} + `, {number: a, sentence}, ` = ${total + a}.`])
      total += a
    } else if (kind === 1 && total > 1) {
      const a = 1 + rng.int(total - 1)
      question.push(`${name} gives ${a} to ${rng.pick(NAMES.filter((n) => n !== name))}.`)
      steps.push([`${total} - `, {number: a, sentence}, ` = ${total - a}.`])
      total -= a
    } else if (kind === 2 || kind === 1) {
      const bags = 2 + rng.int(4)
      const each = 2 + rng.int(9)
      question.push(`${name} buys ${bags} bags of ${each} ${thing} each.`)
      steps.push([{number: bags, sentence}, ' * ', {number: each, sentence}, ` = ${bags * each}, and ${total} + ${bags * each} = ${total + bags * each}.`])
      total += bags * each
    } else {
      question.push(`${name} doubles the ${thing}.`)
      steps.push([`${total} * 2 = ${total * 2}.`])
      total *= 2
    }
  }
  question.push(`How many ${thing} does ${name} have now?`)
  return {question, steps, total}
}

export function arithmeticProblems(seed: number, count = ARITHMETIC_PROBLEMS): ArithmeticProblem[] {
  return Array.from({length: count}, (_, i) => arithmeticProblem(seed, i))
}
