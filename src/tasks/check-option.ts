import {HybridizeError} from '../errors.js'

/** Throws a user-facing error unless `value` is an integer in [min, max]. */
export function checkInteger(task: string, option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HybridizeError(`${task}: ${option} must be an integer from ${min} to ${max}, got ${value}`, {code: 'E_TASK_OPTION'})
  }
  return value
}

/** Throws a user-facing error unless `value` is a number in [min, max]. */
export function checkFraction(task: string, option: string, value: number, min = 0, max = 1): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new HybridizeError(`${task}: ${option} must be a number from ${min} to ${max}, got ${value}`, {code: 'E_TASK_OPTION'})
  }
  return value
}

/** Throws a user-facing error unless `value` is one of `allowed`. */
export function checkChoice<T extends string>(task: string, option: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new HybridizeError(`${task}: ${option} must be one of ${allowed.join(', ')}, got ${String(value)}`, {code: 'E_TASK_OPTION'})
  }
  return value as T
}
