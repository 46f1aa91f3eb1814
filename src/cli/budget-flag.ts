import {parseBudget} from '../heads/budget.js'
import {checkedFlag} from './checked-flag.js'

/**
 * `--budget` of find-heads and rewrite, checked by the flag itself so that a recipe's `budget:` is
 * refused by the same parser before any step runs. The value stays the user's text (oclif's own
 * messages then quote it as written, e.g. "budget=5% cannot also be provided..."): read it with
 * parseBudget.
 */
export function budgetFlag(options: {description: string; exclusive: string[]}) {
  return checkedFlag(
    {
      description: `${options.description} A percentage ("2%") or a fraction of one ("0.02"), both 2% of all heads; a bare number above 1 is refused (counts: --${options.exclusive[0]}). Rounded to the nearest whole head; a budget that rounds to none is an error unless it is 0.`,
      helpValue: '<share>',
      exclusive: options.exclusive,
    },
    (input) => parseBudget(input),
  )
}
