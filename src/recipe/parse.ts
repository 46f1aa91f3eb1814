import {isMap, isScalar, isSeq, LineCounter, parseDocument, type Pair} from 'yaml'
import {DEVICES, keyError, recipeError, type Device, type Recipe, type StepFlags} from './recipe.js'
import {flagOf, keyOf, SECTION_NAMES, SECTIONS, type SectionName} from './sections.js'

const TOP_KEYS: readonly string[] = ['teacher', 'out', 'device', 'seed', ...SECTION_NAMES]

/**
 * A recipe's YAML as a typed recipe: known keys only, each value of the type its key takes; a step
 * section's keys are its command's flags in snake_case. Values are checked against the flags'
 * own rules (ranges, choices) separately, by checkRecipeFlags.
 */
export function parseRecipe(text: string, file: string): Recipe {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {lineCounter, prettyErrors: false})
  const lineAt = (offset: number | undefined): number | undefined => (offset === undefined ? undefined : lineCounter.linePos(offset).line)
  const syntax = doc.errors[0]
  if (syntax) throw recipeError(file, lineAt(syntax.pos[0]), syntax.message)
  const root = doc.contents
  if (!isMap(root)) throw recipeError(file, lineAt(root?.range?.[0]), `expected a mapping with the keys ${TOP_KEYS.join(', ')}`)

  const at = {file, lines: {} as Record<string, number>}
  const keyName = (pair: Pair, prefix: string): string => {
    const name = isScalar(pair.key) && typeof pair.key.value === 'string' ? pair.key.value : undefined
    const line = lineAt(isScalar(pair.key) ? pair.key.range?.[0] : undefined)
    if (name === undefined) throw recipeError(file, line, `${prefix}keys must be plain names`)
    if (line !== undefined) at.lines[prefix + name] = line
    return name
  }

  const values = new Map<string, unknown>()
  for (const pair of root.items) {
    const key = keyName(pair, '')
    if (!TOP_KEYS.includes(key)) throw keyError(at, key, `unknown key (expected one of ${TOP_KEYS.join(', ')})`)
    values.set(key, pair.value)
  }
  const scalar = (key: string): unknown => {
    const node = values.get(key)
    return isScalar(node) ? node.value : node
  }
  const requiredString = (key: string, what: string): string => {
    const value = scalar(key)
    if (!values.has(key)) throw recipeError(file, undefined, `${key}: required (${what})`)
    if (typeof value !== 'string' || value === '') throw keyError(at, key, `expected ${what}`)
    return value
  }

  const recipe: Recipe = {
    file,
    teacher: requiredString('teacher', 'a model folder or org/name[@revision]'),
    out: requiredString('out', 'the folder the steps write under'),
    sections: {},
    lines: at.lines,
  }
  if (values.has('device')) {
    const device = scalar('device')
    if (!DEVICES.includes(device as Device)) throw keyError(at, 'device', `expected one of ${DEVICES.join(', ')}`)
    recipe.device = device as Device
  }
  if (values.has('seed')) {
    const seed = scalar('seed')
    if (!Number.isSafeInteger(seed)) throw keyError(at, 'seed', 'expected an integer')
    recipe.seed = seed as number
  }
  for (const name of SECTION_NAMES) {
    if (values.has(name)) recipe.sections[name] = parseSection(name, values.get(name), at, keyName)
  }
  for (const name of SECTION_NAMES) {
    const missing = recipe.sections[name] && SECTIONS[name].needs.find((n) => !recipe.sections[n])
    if (missing) throw keyError(at, name, `needs a ${missing} section (the ${SECTIONS[missing].output} it reads)`)
  }
  return recipe
}

/** A section's settings as flags; an empty section (`rewrite:`) takes every default. */
function parseSection(name: SectionName, node: unknown, at: Pick<Recipe, 'file' | 'lines'>, keyName: (pair: Pair, prefix: string) => string): StepFlags {
  const flags: StepFlags = new Map()
  if (node === null || (isScalar(node) && node.value === null)) return flags
  if (!isMap(node)) throw keyError(at, name, 'expected a mapping of settings (or nothing, for the defaults)')
  const spec = SECTIONS[name]
  const settable = Object.keys(spec.command.flags).filter((f) => !spec.runnerFlags.includes(f)).map(keyOf)
  for (const pair of node.items) {
    const key = keyName(pair, `${name}.`)
    const path = `${name}.${key}`
    const flag = flagOf(key)
    if (key.includes('-')) throw keyError(at, path, `unknown key: recipe keys are snake_case (${keyOf(key)})`)
    if (spec.runnerFlags.includes(flag)) throw keyError(at, path, 'set by the runner (from teacher, out and device), not per step')
    const definition = spec.command.flags[flag]
    if (!definition) throw keyError(at, path, `unknown key (expected one of ${settable.join(', ')})`)
    const value = flagValue(pair.value, definition.type === 'boolean', spec.listFlags.includes(flag), (m) => keyError(at, path, m))
    if (value !== undefined) flags.set(flag, value)
  }
  const missing = spec.required.find((key) => !flags.has(flagOf(key)))
  if (missing) throw keyError(at, name, `${missing} is required`)
  return flags
}

/** A YAML value as a flag's argument; undefined for a boolean flag set to false. */
function flagValue(node: unknown, boolean: boolean, list: boolean, fail: (message: string) => Error): string | true | undefined {
  if (boolean) {
    if (!isScalar(node) || typeof node.value !== 'boolean') throw fail('expected true or false')
    return node.value || undefined
  }
  if (list && isSeq(node)) {
    if (node.items.length === 0) throw fail('expected at least one item')
    return node.items.map((item) => argument(isScalar(item) ? item.value : item, fail, 'each item to be a string or a number')).join(',')
  }
  return argument(isScalar(node) ? node.value : node, fail, list ? 'a string, a number or a list of them' : 'a string or a number')
}

function argument(value: unknown, fail: (message: string) => Error, expected: string): string {
  if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) return String(value)
  throw fail(`expected ${expected}`)
}
