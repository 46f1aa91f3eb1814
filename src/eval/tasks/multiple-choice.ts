import {readFile} from 'node:fs/promises'
import {basename} from 'node:path'
import {FormatError, HybridizeError} from '../../errors.js'
import {jsonlObjects} from './jsonl-objects.js'
import {encodePair, loglikelihood} from '../loglikelihood.js'
import {mean, meanStderr, multipleChoiceScores} from '../metrics.js'
import {partsForDevices} from '../on-devices.js'
import {loglikelihoodSample, type LmEvalSample} from '../samples.js'
import {loadMcTask, MC_DEFAULTS, type McTask} from './mc-task-yaml.js'
import {textTokenizer, type EvalContext, type TaskResult} from './types.js'

/**
 * `mc:<file.jsonl>` or `mc:<task.yaml>` (mc-task-yaml.ts): one question a line,
 * `{"context": "...", "choices": ["Paris", ...], "gold": 0}`, lm-evaluation-harness's
 * multiple_choice task with doc_to_text = context, doc_to_choice = choices, doc_to_target = gold:
 * each choice is scored as the continuation `target_delimiter + choice` of the context
 * (lm_eval/api/task.py, ConfigurableTask.construct_requests). The delimiter is the task's (" "
 * unless its YAML says otherwise); an item's own "target_delimiter" wins, which lm-eval ignores.
 */
export interface McItem {
  context: string
  choices: string[]
  gold: number
  targetDelimiter: string
  /** The line as written: lm-eval's `doc`. */
  doc: Record<string, unknown>
  /** file:line, for messages. */
  where: string
}

export function parseMcJsonl(text: string, file: string, task: Pick<McTask, 'targetDelimiter' | 'fields'> = MC_DEFAULTS): McItem[] {
  const items: McItem[] = []
  const {text: textField, choices: choicesField, target: targetField} = task.fields
  for (const {doc, where} of jsonlObjects(text, file)) {
    const delimiter = doc.target_delimiter ?? task.targetDelimiter
    if (typeof delimiter !== 'string') throw new FormatError(`${where}: "target_delimiter" must be a string`)
    const context = doc[textField]
    const choices = doc[choicesField]
    const gold = doc[targetField]
    if (typeof context !== 'string') throw new FormatError(`${where}: "${textField}" must be a string`)
    if (!Array.isArray(choices) || choices.length < 2 || !choices.every((c) => typeof c === 'string')) {
      throw new FormatError(`${where}: "${choicesField}" must be a list of at least two strings`)
    }
    if (!Number.isInteger(gold) || (gold as number) < 0 || (gold as number) >= choices.length) {
      throw new FormatError(`${where}: "${targetField}" must be the index of the right choice (0..${choices.length - 1})`)
    }
    choices.forEach((c: string, k) => {
      if (delimiter + c === '') throw new FormatError(`${where}: choice ${k} is empty and the target_delimiter is "": the continuation to score is empty`)
    })
    items.push({context, choices, gold: gold as number, targetDelimiter: delimiter, doc, where})
  }
  if (items.length === 0) throw new FormatError(`${file}: no questions`)
  return items
}

export async function runMultipleChoice(path: string, ctx: EvalContext): Promise<TaskResult> {
  const task = await loadMcTask(path)
  const all = parseMcJsonl(await readFile(task.dataFile, 'utf8'), task.dataFile, task)
  const items = ctx.limit === undefined ? all : all.slice(0, ctx.limit)
  // lm-eval logs this case too: items written for a scorer without a delimiter (" Paris") get two spaces.
  const doubled = items.find((it) => /\s$/.test(it.targetDelimiter) && it.choices.some((c) => /^\s/.test(c)))
  if (doubled) {
    ctx.warn?.(`${doubled.where}: a choice starts with whitespace and target_delimiter ${JSON.stringify(doubled.targetDelimiter)} ends with it, so both are scored; write choices without the leading space`)
  }
  const tok = textTokenizer(ctx)
  const requests = items.flatMap((it) => it.choices.map((c) => ({context: it.context, continuation: it.targetDelimiter + c})))
  // A continuation that adds no token (a word-level tokenizer merges "days" + "asked" into one
  // unknown token) would score log-likelihood 0, the best of all: refuse it, naming the item. So is
  // a context of no tokens, which leaves nothing to predict the first token from.
  let k = 0
  for (const it of items) {
    for (const [c, choice] of it.choices.entries()) {
      const r = requests[k++]
      const pair = encodePair(tok, r.context, r.continuation)
      if (pair.context.length === 0) throw new HybridizeError(`${it.where}: the context encodes to no tokens; give each question a context`, {code: 'E_TASK'})
      if (pair.continuation.length === 0) {
        throw new HybridizeError(
          `${it.where}: choice ${c} (${JSON.stringify(choice)}) after target_delimiter ${JSON.stringify(it.targetDelimiter)} adds no token to the context; ` +
            'the tokenizer merges it into the context\'s last token (use a delimiter such as " ")',
          {code: 'E_TASK'},
        )
      }
    }
  }
  const total = requests.length
  // With --devices, each device scores a contiguous part of the questions (all choices of a question together: they share rows).
  let at = 0
  const parts = partsForDevices(ctx, items.map((it) => requests.slice(at, (at += it.choices.length))))
  const doneOn = parts.map(() => 0)
  const scored = (await Promise.all(parts.map(({lm, items: part}, d) => loglikelihood(lm, tok, part.flat(), ctx.batchSize, (done) => {
    doneOn[d] = done
    ctx.progress(`mc ${doneOn.reduce((a, b) => a + b, 0)}/${total}`)
  }, ctx.precision)))).flat()
  const acc: number[] = []
  const accNorm: number[] = []
  const samples: LmEvalSample[] = []
  k = 0
  items.forEach((it, doc) => {
    const first = k
    const results = it.choices.map(() => scored[k++])
    const s = multipleChoiceScores(results.map((r) => r.logprob), it.choices, it.gold)
    acc.push(s.acc)
    accNorm.push(s.accNorm)
    if (ctx.logSamples) {
      const scoredRequests = results.map((r, c) => ({...requests[first + c], logprob: r.logprob, isGreedy: r.isGreedy}))
      samples.push(loglikelihoodSample(doc, it.doc, it.gold, scoredRequests, {acc: s.acc, acc_norm: s.accNorm}))
    }
  })
  const name = task.name ?? `mc:${basename(path)}`
  return {
    task: name,
    metrics: {'acc,none': mean(acc), 'acc_stderr,none': meanStderr(acc), 'acc_norm,none': mean(accNorm), 'acc_norm_stderr,none': meanStderr(accNorm)},
    samples: ctx.logSamples ? samples : undefined,
    counts: {original: all.length, effective: items.length},
    config: {
      task: name,
      dataset_path: 'json',
      dataset_kwargs: {data_files: {test: task.dataFile}},
      test_split: 'test',
      output_type: 'multiple_choice',
      doc_to_text: task.fields.text,
      doc_to_choice: task.fields.choices,
      doc_to_target: task.fields.target,
      target_delimiter: task.targetDelimiter,
      num_fewshot: 0,
      metric_list: [
        {metric: 'acc', aggregation: 'mean', higher_is_better: true},
        {metric: 'acc_norm', aggregation: 'mean', higher_is_better: true},
      ],
      metadata: {version: MC_VERSION},
    },
  }
}

/** Version 2: choices take lm-eval's target_delimiter (version 1 scored them with none). */
const MC_VERSION = 2
