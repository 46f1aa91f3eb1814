import {HybridizeError} from '../errors.js'
import {parseTaskSpec} from '../tasks/task-spec.js'
import {DEFAULT_GENERATION, isGenerationTask, runGeneration} from './tasks/generation.js'
import {ARITHMETIC_TASK} from './tasks/generation-docs.js'
import {runMultipleChoice} from './tasks/multiple-choice.js'
import {runPerplexity} from './tasks/perplexity.js'
import {runRetrieval} from './tasks/retrieval.js'
import {runThroughput} from './tasks/throughput.js'
import type {EvalContext, TaskResult} from './tasks/types.js'

export const TASK_HELP = `ppl:<file>[,<file>], ppl:brown-heldout, mc:<file.jsonl|task.yaml>, gen:<file.jsonl>, ${ARITHMETIC_TASK}, kv-retrieval[:keys=heldout|train|all][:template=dictionary|sentences], mc-retrieval[:keys=...], needle[:keys=...], arith-lookup, throughput`

/** The tasks that stand alone, without a file: a retrieval task (with its options), throughput, arith-cot. */
function isPlainTask(name: string): boolean {
  return parseTaskSpec(name) !== undefined || name === 'throughput' || name === ARITHMETIC_TASK
}

/**
 * `--tasks` as a list of task specs, in any order: items are separated by ',' (also ';' or
 * spaces), and each item that is a task (`ppl:`, `mc:`, or a task name) starts a new task. A bare
 * file name after `ppl:<file>` is one more file of that perplexity task (`ppl:a.txt,b.txt`);
 * anywhere else it is an error, so a typo in a task name is caught before any model loads.
 */
export function parseTaskList(spec: string): string[] {
  const tasks: string[] = []
  for (const item of spec.split(/[,;\s]+/).filter(Boolean)) {
    const previous = tasks.at(-1)
    if (item.startsWith('ppl:') || item.startsWith('mc:') || item.startsWith('gen:')) {
      if (item.endsWith(':')) throw new HybridizeError(`task '${item}' names no file; give ${item}<file>`, {code: 'E_TASK'})
      tasks.push(item)
    } else if (isPlainTask(item)) {
      tasks.push(item)
    } else if (previous?.startsWith('ppl:')) {
      tasks[tasks.length - 1] = `${previous},${item}`
    } else if (previous?.startsWith('mc:') || previous?.startsWith('gen:')) {
      const kind = previous.slice(0, previous.indexOf(':') + 1)
      throw new HybridizeError(`unknown task '${item}' after ${previous} (an ${kind} task takes one file: write ${kind}${item} for another); tasks: ${TASK_HELP}`, {code: 'E_TASK'})
    } else {
      throw new HybridizeError(`unknown task '${item}'; tasks: ${TASK_HELP}`, {code: 'E_TASK'})
    }
  }
  if (tasks.length === 0) throw new HybridizeError(`--tasks names no task; tasks: ${TASK_HELP}`, {code: 'E_TASK'})
  return tasks
}

export async function runTask(spec: string, ctx: EvalContext, seqLen: number): Promise<TaskResult> {
  if (spec.startsWith('ppl:')) return checkFinite(await runPerplexity(spec.slice(4).split(','), seqLen, ctx))
  if (spec.startsWith('mc:')) return checkFinite(await runMultipleChoice(spec.slice(3), ctx))
  const retrieval = parseTaskSpec(spec)
  if (retrieval) return checkFinite(await runRetrieval(retrieval, ctx))
  if (spec === 'throughput') return checkFinite(await runThroughput(seqLen, ctx))
  if (isGenerationTask(spec)) return checkFinite(await runGeneration(spec, ctx, ctx.generation ?? DEFAULT_GENERATION, ctx.eosTokenIds ?? []))
  throw new HybridizeError(`unknown task '${spec}'; tasks: ${TASK_HELP}`, {code: 'E_TASK'})
}

/**
 * A non-finite metric (a model whose logits overflow) is an error, never a number in the table or
 * the results file. Standard errors are exempt: one sample has none (NaN, written "N/A").
 */
export function checkFinite(r: TaskResult): TaskResult {
  for (const [key, value] of Object.entries(r.metrics)) {
    if (!key.split(',')[0].endsWith('_stderr') && !Number.isFinite(value)) {
      throw new HybridizeError(`${r.task}: ${key.replace(',none', '')} is ${value}; the model's outputs are not finite`, {code: 'E_NONFINITE'})
    }
  }
  return r
}
