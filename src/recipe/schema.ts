import {Flags, type Interfaces} from '@oclif/core'
import {z} from 'zod'
import {flagCheck} from '../cli/checked-flag.js'
import {DEVICES} from './recipe.js'
import {keyOf, SECTION_NAMES, SECTIONS, type SectionName, type SectionSpec} from './sections.js'

/**
 * The schema's `$id`: a name, not an address (the project publishes no URL); editors find the
 * committed file, schemas/recipe.schema.json, by path.
 */
export const RECIPE_SCHEMA_ID = 'urn:hybridize:schema:recipe'

/** A required key's message, missing (`undefined`) or of the wrong type. */
const requiredKey = (what: string) => (issue: {input?: unknown}) => (issue.input === undefined ? `required (${what})` : `expected ${what}`)

/** Flags.integer's parse function: every integer flag carries it unless it brings its own. */
const integerParse = Flags.integer().parse

type FlagDefinition = Interfaces.FlagInput[string]

/**
 * A command's flag as the recipe key's value schema: a boolean flag takes true or false; an
 * integer flag an integer within its min and max (oclif's own messages); a flag with options one
 * of them; a list flag a comma-separated string or a YAML list; any other a string or a number.
 * The output is the value the command's parser gives the flag (a string flag's text, a list joined
 * with commas), checked by the flag's own check where it has one (checkedFlag), so a new flag
 * needs no edit here.
 */
function flagSchema(key: string, flag: FlagDefinition, list: boolean): z.ZodType {
  // A mapping or a list where one value goes says so, whatever the flag's type.
  const scalarOr = (message: (input: unknown) => string) => (issue: {input?: unknown}) =>
    typeof issue.input === 'object' && issue.input !== null ? 'expected a string or a number' : message(issue.input)
  const meta = {description: flag.description, ...(['string', 'number', 'boolean'].includes(typeof flag.default) ? {default: flag.default} : {})}
  if (flag.type === 'boolean') return z.boolean({error: 'expected true or false'}).meta(meta)
  if (flag.parse === integerParse) {
    const {min, max} = flag as {min?: number; max?: number}
    let schema = z.int({error: scalarOr((input) => `expected an integer but received: ${String(input)}`)})
    if (min !== undefined) schema = schema.min(min, {error: (issue) => `expected an integer greater than or equal to ${min} but received: ${String(issue.input)}`})
    if (max !== undefined) schema = schema.max(max, {error: (issue) => `expected an integer less than or equal to ${max} but received: ${String(issue.input)}`})
    return schema.meta(meta)
  }
  if (flag.options) {
    const options = flag.options as [string, ...string[]]
    return z.enum(options, {error: scalarOr((input) => `expected ${key}=${String(input)} to be one of: ${options.join(', ')}`)}).meta(meta)
  }
  const scalar = z.union([z.string(), z.number()], {error: 'expected a string or a number'})
  const input = list ? z.union([scalar, z.array(scalar).min(1)], {error: 'expected a string, a number or a non-empty list of them'}) : scalar
  const check = flagCheck(flag)
  return input.meta(meta).transform((value, ctx) => {
    const text = Array.isArray(value) ? value.map(String).join(',') : String(value)
    try {
      check?.(text)
    } catch (err) {
      ctx.issues.push({code: 'custom', input: value, message: recipeWording((err as Error).message)})
      return z.NEVER
    }
    return text
  })
}

/** A flag's message in recipe keys: "--budget 3: ..." as "budget 3: ...". */
function recipeWording(message: string): string {
  const text = message.replace(/--([a-z][a-z0-9-]*)/g, (_, flag: string) => keyOf(flag))
  return text.charAt(0).toLowerCase() + text.slice(1)
}

/**
 * The flags' relationships, as oclif checks them on a command line: two exclusive keys (named from
 * the last flag in the command's order that declares the exclusion) or a key without one it depends
 * on (the runner's flags are always set).
 */
function checkRelationships(spec: SectionSpec, section: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const given = (flag: string) => section[keyOf(flag)] !== undefined && section[keyOf(flag)] !== false
  for (const [flag, definition] of Object.entries(spec.flags).reverse()) {
    if (!given(flag)) continue
    const excluded = definition.exclusive?.find(given)
    if (excluded) return ctx.addIssue({code: 'custom', input: section, message: `${keyOf(flag)}=${String(section[keyOf(flag)])} cannot also be provided when using ${keyOf(excluded)}`})
    const missing = definition.dependsOn?.find((other) => !spec.runnerFlags.includes(other) && !given(other))
    if (missing) return ctx.addIssue({code: 'custom', input: section, message: `${keyOf(missing)} is required when using ${keyOf(flag)}`})
  }
}

/** A step section: its command's flags (less those the runner sets) as snake_case keys; empty takes the defaults. */
function sectionSchema(name: SectionName, spec: SectionSpec): z.ZodType {
  const shape: Record<string, z.ZodType> = {}
  for (const [flag, definition] of Object.entries(spec.flags)) {
    if (spec.runnerFlags.includes(flag)) continue
    const schema = flagSchema(keyOf(flag), definition, spec.listFlags.includes(flag))
    shape[keyOf(flag)] = spec.required.includes(keyOf(flag)) ? schema : schema.optional()
  }
  const keys = Object.keys(shape)
  return z
    .strictObject(shape, {
      error: (issue) => {
        if (issue.code !== 'unrecognized_keys') return 'expected a mapping of settings (or nothing, for the defaults)'
        const key = issue.keys[0]
        if (key.includes('-')) return `unknown key: recipe keys are snake_case (${keyOf(key)})`
        if (spec.runnerFlags.includes(key)) return 'set by the runner (from teacher, out and device), not per step'
        return `unknown key (expected one of ${keys.join(', ')})`
      },
    })
    .superRefine((section, ctx) => checkRelationships(spec, section, ctx))
    .nullable()
    .meta({
      description: `\`hybridize ${spec.id}\`'s flags in snake_case; writes out/${spec.output}. ` +
        (spec.required.length > 0 ? `Needs ${spec.required.join(', ')}.` : `Empty (\`${name}:\`) runs it with the defaults.`),
    })
}

const TOP_KEYS = ['teacher', 'out', 'device', 'seed', ...SECTION_NAMES]

function buildRecipeSchema() {
  const sections = Object.fromEntries(SECTION_NAMES.map((name) => [name, sectionSchema(name, SECTIONS[name]).optional()])) as Record<SectionName, z.ZodOptional<z.ZodType>>
  return z
    .strictObject(
      {
        teacher: z.string({error: requiredKey('a model folder or org/name[@revision]')}).min(1, {error: 'expected a model folder or org/name[@revision]'})
          .meta({description: 'The teacher: a model folder, or org/name[@revision] on the Hugging Face hub (downloaded first).'}),
        out: z.string({error: requiredKey('the folder the steps write under')}).min(1, {error: 'expected the folder the steps write under'})
          .meta({description: 'The folder every step writes under.'}),
        device: z.enum(DEVICES, {error: `expected one of ${DEVICES.join(', ')}`}).optional()
          .meta({description: 'Where to compute (auto, webgpu or cpu), in place of HYBRIDIZE_DEVICE; `hybridize run --device` overrides it.'}),
        seed: z.int({error: 'expected an integer'}).optional().meta({description: 'The seed of find_heads, distill and eval, where a section sets none.'}),
        ...sections,
      },
      {error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown key (expected one of ${TOP_KEYS.join(', ')})` : `expected a mapping with the keys ${TOP_KEYS.join(', ')}`)},
    )
    .superRefine((recipe, ctx) => {
      for (const name of SECTION_NAMES) {
        const missing = recipe[name] !== undefined && SECTIONS[name].needs.find((n) => recipe[n] === undefined)
        if (missing) ctx.addIssue({code: 'custom', path: [name], input: recipe[name], message: `needs a ${missing} section (the ${SECTIONS[missing].output} it reads)`})
      }
    })
    .meta({
      $id: RECIPE_SCHEMA_ID,
      title: 'hybridize recipe',
      description: 'A `hybridize run` recipe: a teacher, an out folder, and the step sections to run (find_heads, rewrite, distill, eval), each a command\'s flags in snake_case.',
    })
}

let built: ReturnType<typeof buildRecipeSchema> | undefined

/** The recipe file's schema, built from the commands' flags on first use. */
export function recipeSchema(): ReturnType<typeof buildRecipeSchema> {
  built ??= buildRecipeSchema()
  return built
}
