import {isMap, LineCounter, parseDocument, type Pair} from 'yaml'
import type {z} from 'zod'
import {keyError, recipeError, type Device, type FlagValues, type Recipe, type StepFlags} from './recipe.js'
import {recipeSchema} from './schema.js'
import {flagOf, SECTION_NAMES} from './sections.js'

/**
 * A recipe's YAML as a typed recipe: checked against the recipe schema (src/recipe/schema.ts, the
 * one definition `hybridize schema recipe` prints), each mistake reported at its key's line. A
 * step section's keys are its command's flags in snake_case, checked as the flags' parsers check
 * them (ranges, choices, custom formats, flags that exclude each other).
 */
export function parseRecipe(text: string, file: string): Recipe {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {lineCounter, prettyErrors: false})
  const lineAt = (offset: number | undefined): number | undefined => (offset === undefined ? undefined : lineCounter.linePos(offset).line)
  const syntax = doc.errors[0]
  if (syntax) throw recipeError(file, lineAt(syntax.pos[0]), syntax.message)
  const root = doc.contents
  if (!isMap(root)) throw recipeError(file, lineAt(root?.range?.[0]), `expected a mapping with the keys ${Object.keys(recipeSchema().shape).join(', ')}`)

  // Every key's line (`teacher`, `distill`, `distill.tokens`), for the messages.
  const at = {file, lines: {} as Record<string, number>}
  const recordKeys = (pairs: Pair[], prefix: string): void => {
    for (const pair of pairs) {
      const line = lineAt((pair.key as {range?: [number]} | null)?.range?.[0])
      const name = (pair.key as {value?: unknown} | null)?.value
      if (typeof name !== 'string') throw recipeError(file, line, `${prefix}keys must be plain names`)
      if (line !== undefined) at.lines[prefix + name] = line
      if (prefix === '' && isMap(pair.value)) recordKeys(pair.value.items as Pair[], `${name}.`)
    }
  }
  recordKeys(root.items as Pair[], '')

  const data = doc.toJS() as Record<string, unknown>
  const result = recipeSchema().safeParse(data)
  if (!result.success) throw firstMistake(result.error.issues, data, at)

  const recipe: Recipe = {file, teacher: data.teacher as string, out: data.out as string, sections: {}, values: {}, lines: at.lines}
  if (data.device !== undefined) recipe.device = data.device as Device
  if (data.seed !== undefined) recipe.seed = data.seed as number
  for (const name of SECTION_NAMES) {
    // The raw values rather than the schema's output: a section's flags keep the file's order.
    if (!(name in data)) continue
    recipe.sections[name] = stepFlags(data[name] as Record<string, unknown> | null)
    recipe.values[name] = flagValues(result.data[name] as Record<string, string | number | boolean | undefined> | null)
  }
  return recipe
}

/** A section's settings as flags: a list joined with commas, a boolean flag set to false left out. */
function stepFlags(section: Record<string, unknown> | null): StepFlags {
  const flags: StepFlags = new Map()
  for (const [key, value] of Object.entries(section ?? {})) {
    if (value === false) continue
    flags.set(flagOf(key), value === true ? true : Array.isArray(value) ? value.map(String).join(',') : String(value))
  }
  return flags
}

/** A section's checked values by flag name. */
function flagValues(section: Record<string, string | number | boolean | undefined> | null): FlagValues {
  return Object.fromEntries(Object.entries(section ?? {}).flatMap(([key, value]) => (value === undefined ? [] : [[flagOf(key), value]])))
}

/** The schema's first complaint, in file order, as one line located at its key. */
function firstMistake(issues: z.core.$ZodIssue[], data: Record<string, unknown>, at: Pick<Recipe, 'file' | 'lines'>): Error {
  const located = issues.map((issue) => {
    const path = issue.path.map(String)
    // A section missing the one it reads is reported only when each section alone is right.
    if (issue.code === 'custom') return {key: path.join('.'), message: issue.message, crossSection: true}
    if (issue.code === 'unrecognized_keys') return {key: [...path, issue.keys[0]].join('.'), message: issue.message}
    const parent = path.slice(0, -1).reduce<unknown>((node, key) => (node as Record<string, unknown> | null)?.[key], data)
    const last = path.at(-1)
    const missing = last !== undefined && typeof parent === 'object' && parent !== null && !(last in parent)
    if (missing && path.length === 1) return {key: last, message: issue.message, unlocated: true}
    if (missing) return {key: path[0], message: `${last} is required`}
    return {key: path.join('.'), message: issue.message}
  })
  const order = (l: {key: string; crossSection?: boolean}) => (l.crossSection ? 1e9 : 0) + (at.lines[l.key] ?? 1e8)
  const first = located.sort((a, b) => order(a) - order(b))[0]
  return 'unlocated' in first ? recipeError(at.file, undefined, `${first.key}: ${first.message}`) : keyError(at, first.key, first.message)
}
