import {HybridizeError} from '../errors.js'
import {type ArithLookupOptions, arithLookup} from './arith-lookup.js'
import {fnv1a} from '../util/fnv1a.js'
import {Random} from '../util/random.js'
import {type KvRetrievalOptions, kvRetrieval} from './kv-retrieval.js'
import {type McRetrievalOptions, mcRetrieval} from './mc-retrieval.js'
import {type NeedleOptions, needle} from './needle.js'
import type {RetrievalTask, TaskSample} from './types.js'

export type {ArithLookupOptions, KvRetrievalOptions, McRetrievalOptions, NeedleOptions, RetrievalTask, TaskSample}
export type {Span} from './types.js'

export interface TaskOptionsByName {
  'kv-retrieval': KvRetrievalOptions
  'mc-retrieval': McRetrievalOptions
  needle: NeedleOptions
  'arith-lookup': ArithLookupOptions
}

export type TaskName = keyof TaskOptionsByName

const TASKS: {[N in TaskName]: RetrievalTask<TaskOptionsByName[N]>} = {
  'kv-retrieval': kvRetrieval,
  'mc-retrieval': mcRetrieval,
  needle,
  'arith-lookup': arithLookup,
}

export const taskNames = Object.keys(TASKS) as TaskName[]

export function isTaskName(name: string): name is TaskName {
  return Object.hasOwn(TASKS, name)
}

export function getTask<N extends TaskName>(name: N): RetrievalTask<TaskOptionsByName[N]>
export function getTask(name: string): RetrievalTask<object>
export function getTask(name: string): RetrievalTask<object> {
  if (!isTaskName(name)) {
    throw new HybridizeError(`unknown task '${name}' (tasks: ${taskNames.join(', ')})`, {code: 'E_TASK'})
  }
  return TASKS[name]
}

/**
 * Samples first .. first+count-1 of a task. Sample i depends only on (seed, task name, i): a longer run starts
 * with the samples of a shorter one, batches can be drawn in any order, and two tasks under one seed draw
 * unrelated keys.
 */
export function generateSamples<Options extends object>(
  task: RetrievalTask<Options>,
  {seed, count, first = 0, ...options}: {seed: number; count: number; first?: number} & Partial<Options>,
): TaskSample[] {
  const taskStream = fnv1a(task.name)
  return Array.from({length: count}, (_, i) => task.sample(new Random(seed, taskStream, first + i), options as Partial<Options>))
}

