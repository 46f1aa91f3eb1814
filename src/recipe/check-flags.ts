import {Parser} from '@oclif/core'
import {keyError, type Recipe} from './recipe.js'
import {keyOf, SECTION_NAMES, SECTIONS} from './sections.js'
import {flagArguments, sectionStep} from './steps.js'

/**
 * Checks the recipe's values with the commands' own flag parsers before any step runs: each key
 * alone (integer ranges, choices), then each section's whole command line (flags that exclude
 * or need each other), so a mistake in the eval section fails in a second, not after distilling.
 */
export async function checkRecipeFlags(recipe: Recipe): Promise<void> {
  for (const name of SECTION_NAMES) {
    const flags = recipe.sections[name]
    if (!flags) continue
    const {command} = SECTIONS[name]
    for (const [flag, value] of flags) {
      const alone = {...command.flags[flag], dependsOn: undefined, exactlyOne: undefined, relationships: undefined}
      await Parser.parse(flagArguments(new Map([[flag, value]])), {flags: {[flag]: alone}, args: {}, strict: true}).catch((err: Error) => {
        throw keyError(recipe, `${name}.${keyOf(flag)}`, parserMessage(err))
      })
    }
    const {argv} = sectionStep(recipe, name)
    await Parser.parse(argv, {flags: {...command.baseFlags, ...command.flags}, args: command.args, strict: command.strict}).catch((err: Error) => {
      throw keyError(recipe, name, parserMessage(err))
    })
  }
}

/** oclif's parse error as one clause, in recipe keys: "expected an integer ... but received: 0". */
function parserMessage(err: Error): string {
  const lines = err.message.split('\n').map((l) => l.trim())
  const first = lines.find((l) => l && !/^(Parsing --|The following errors? occurred|See more help)/.test(l)) ?? err.message
  const text = first.replace(/--([a-z][a-z0-9-]*)/g, (_, flag: string) => keyOf(flag))
  return text.charAt(0).toLowerCase() + text.slice(1)
}
