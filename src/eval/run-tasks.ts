import {HybridizeError} from '../errors.js'
import {isTaskName} from '../tasks/index.js'
import {runMultipleChoice} from './tasks/multiple-choice.js'
import {runPerplexity} from './tasks/perplexity.js'
import {runRetrieval} from './tasks/retrieval.js'
import {runThroughput} from './tasks/throughput.js'
import type {EvalContext, TaskResult} from './tasks/types.js'

/** `--tasks` entries: `ppl:a.txt,b.txt` takes the rest of its entry, so the list is split on ';' or spaces there. */
export function parseTaskList(spec: string): string[] {
  return spec.split(/\s*;\s*|\s+/).flatMap((part) => (part.startsWith('ppl:') ? [part] : part.split(','))).filter(Boolean)
}

export const TASK_HELP = 'ppl:<file>[,<file>], mc:<file.jsonl>, kv-retrieval, mc-retrieval, needle, throughput'

export async function runTask(spec: string, ctx: EvalContext, seqLen: number): Promise<TaskResult> {
  if (spec.startsWith('ppl:')) return runPerplexity(spec.slice(4).split(','), seqLen, ctx)
  if (spec.startsWith('mc:')) return runMultipleChoice(spec.slice(3), ctx)
  if (isTaskName(spec)) return runRetrieval(spec, ctx)
  if (spec === 'throughput') return runThroughput(seqLen, ctx)
  throw new HybridizeError(`unknown task '${spec}'; tasks: ${TASK_HELP}`, {code: 'E_TASK'})
}
