import {HybridizeError} from '../errors.js'
import {Random} from '../util/random.js'
import {getTask, isTaskName, type TaskName} from './index.js'

/** A retrieval task as `--tasks` names it: `kv-retrieval:keys=all:template=sentences`. */
export interface TaskSpec {
  name: TaskName
  options: Record<string, string | number>
}

/**
 * Parses `name[:option=value]...`, the form `--mix` writes a task's options in (`kv-retrieval:0.1:pairs=10-50`),
 * with one value per option. Options are the task's (its `defaults`); a number option takes a number. The
 * options are tried on one sample, so a bad value fails here, before any model loads. Undefined when the name
 * is no retrieval task.
 */
export function parseTaskSpec(spec: string): TaskSpec | undefined {
  const [name, ...parts] = spec.split(':')
  if (!isTaskName(name)) return undefined
  const defaults: Record<string, unknown> = getTask(name).defaults
  const options: Record<string, string | number> = {}
  for (const part of parts) {
    const m = /^(\w+)=(.+)$/.exec(part)
    if (!m) throw new HybridizeError(`task '${spec}': expected ${name}:option=value (e.g. kv-retrieval:keys=all), got '${part}'`, {code: 'E_TASK'})
    const [, option, value] = m
    if (!(option in defaults)) {
      throw new HybridizeError(`task '${spec}': ${name} has no option '${option}' (options: ${Object.keys(defaults).join(', ')})`, {code: 'E_TASK'})
    }
    options[option] = typeof defaults[option] === 'number' ? Number(value) : value
  }
  getTask(name).sample(new Random(0), options)
  return {name, options}
}
