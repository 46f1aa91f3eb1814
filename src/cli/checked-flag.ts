import {Flags} from '@oclif/core'

/** The check each checked flag carries, by flag definition. */
const checks = new WeakMap<object, (text: string) => unknown>()

/**
 * A string flag whose value `check` validates (throwing a HybridizeError), as the command's parser
 * and as a recipe's key: the recipe schema (src/recipe/schema.ts) runs the same check on the key's
 * value, so a recipe's mistake is refused before any step runs. The value stays the user's text.
 */
export function checkedFlag(options: {description: string; helpValue?: string; exclusive?: string[]}, check: (text: string) => unknown) {
  const flag = Flags.string({
    ...options,
    parse: async (input: string) => {
      check(input)
      return input
    },
  })
  checks.set(flag, check)
  return flag
}

/** The check of a flag made by checkedFlag, if it is one. */
export const flagCheck = (flag: object): ((text: string) => unknown) | undefined => checks.get(flag)
