import {readFile} from 'node:fs/promises'
import {basename} from 'node:path'
import {FormatError} from '../../errors.js'
import {loglikelihood} from '../loglikelihood.js'
import {mean, meanStderr, multipleChoiceScores} from '../metrics.js'
import {textTokenizer, type EvalContext, type TaskResult} from './types.js'

/**
 * `mc:<file.jsonl>`: one question a line, `{"context": "...", "choices": ["...", ...], "gold": 0}`.
 * Each choice is scored as the continuation of the context (add the leading space the tokenizer
 * expects, e.g. " Paris"), as lm-evaluation-harness scores multiple_choice tasks.
 */
export interface McItem {
  context: string
  choices: string[]
  gold: number
}

export function parseMcJsonl(text: string, file: string): McItem[] {
  const items: McItem[] = []
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return
    const where = `${file}:${i + 1}`
    let raw: unknown
    try {
      raw = JSON.parse(line)
    } catch {
      throw new FormatError(`${where}: not valid JSON`)
    }
    const item = raw as Partial<McItem>
    if (typeof item.context !== 'string') throw new FormatError(`${where}: "context" must be a string`)
    if (!Array.isArray(item.choices) || item.choices.length < 2 || !item.choices.every((c) => typeof c === 'string')) {
      throw new FormatError(`${where}: "choices" must be a list of at least two strings`)
    }
    if (!Number.isInteger(item.gold) || item.gold! < 0 || item.gold! >= item.choices.length) {
      throw new FormatError(`${where}: "gold" must be the index of the right choice (0..${item.choices.length - 1})`)
    }
    items.push({context: item.context, choices: item.choices, gold: item.gold!})
  })
  if (items.length === 0) throw new FormatError(`${file}: no questions`)
  return items
}

export async function runMultipleChoice(file: string, ctx: EvalContext): Promise<TaskResult> {
  let items = parseMcJsonl(await readFile(file, 'utf8'), file)
  if (ctx.limit !== undefined) items = items.slice(0, ctx.limit)
  const requests = items.flatMap((it) => it.choices.map((c) => ({context: it.context, continuation: c})))
  const total = requests.length
  const scored = await loglikelihood(ctx.lm, textTokenizer(ctx), requests, ctx.batchSize, (done) => ctx.progress(`mc ${done}/${total}`))
  const acc: number[] = []
  const accNorm: number[] = []
  const samples: Record<string, unknown>[] = []
  let k = 0
  items.forEach((it, doc) => {
    const lps = it.choices.map(() => scored[k++].logprob)
    const s = multipleChoiceScores(lps, it.choices, it.gold)
    acc.push(s.acc)
    accNorm.push(s.accNorm)
    if (ctx.logSamples) samples.push({doc_id: doc, doc: it, target: it.gold, resps: lps, acc: s.acc, acc_norm: s.accNorm})
  })
  return {
    task: `mc:${basename(file)}`,
    metrics: {'acc,none': mean(acc), 'acc_stderr,none': meanStderr(acc), 'acc_norm,none': mean(accNorm), 'acc_norm_stderr,none': meanStderr(accNorm)},
    samples: ctx.logSamples ? samples : undefined,
  }
}
