import {z} from 'zod'
import {HybridizeError} from '../errors.js'
import type {FieldSpec} from './config-fields.js'

/**
 * The zod schemas of the config-field tables, and `readFields`, which checks a config.json against
 * them: the first bad field becomes one line, `config.json: rope_theta must be a positive number,
 * got 0`. Values come back with defaults applied.
 */
export type FieldValue = number | boolean | string | number[] | undefined

type Json = Record<string, unknown>

/** What a field must be, as the message and the JSON Schema description say it. */
export function describeField(spec: FieldSpec): string {
  switch (spec.type) {
    case 'int': {
      const base = spec.min === 1 ? 'a positive integer' : spec.min === 0 ? 'a non-negative integer' : `an integer of at least ${spec.min}`
      return `${base} (at most ${spec.max})`
    }
    case 'number': {
      if (spec.above !== undefined && spec.max !== undefined) return `a number in (${spec.above}, ${spec.max}]`
      if (spec.min !== undefined && spec.max !== undefined) return `a number in [${spec.min}, ${spec.max}]`
      if (spec.above === 0) return 'a positive number'
      if (spec.above !== undefined) return `a number above ${spec.above}`
      if (spec.min === 0) return 'a non-negative number'
      return 'a finite number'
    }
    case 'boolean': return 'true or false'
    case 'enum': return spec.values.length === 1 ? `'${spec.values[0]}'` : `one of ${spec.values.map((v) => `'${v}'`).join(', ')}`
    case 'token-ids': return 'a token id (a non-negative integer) or a list of them'
  }
}

/** One field's schema; null and absent are allowed here (the reader applies defaults and `required`). */
function fieldSchema(spec: FieldSpec): z.ZodType {
  let schema: z.ZodType
  switch (spec.type) {
    case 'int':
      schema = z.int().min(spec.min).max(spec.max)
      break
    case 'number': {
      // z.number() refuses NaN and ±Infinity.
      let n = z.number()
      if (spec.above !== undefined) n = n.gt(spec.above)
      if (spec.min !== undefined) n = n.min(spec.min)
      if (spec.max !== undefined) n = n.max(spec.max)
      schema = n
      break
    }
    case 'boolean': schema = z.boolean(); break
    case 'enum': schema = z.enum(spec.values as [string, ...string[]]); break
    case 'token-ids': schema = z.union([z.int().min(0), z.array(z.int().min(0))]); break
  }
  const meta = {description: spec.about ? `${describeField(spec)}; ${spec.about}` : describeField(spec), ...('default' in spec && spec.default !== undefined ? {default: spec.default} : {})}
  return (spec.required && !('default' in spec && spec.default !== undefined) ? schema : schema.nullish()).meta(meta)
}

const cache = new WeakMap<readonly FieldSpec[], Map<string, z.ZodType>>()

/** The zod schema of `family`'s fields in `table` (dotted keys nest); unknown keys pass through. */
export function configSchema(table: readonly FieldSpec[], family: string): z.ZodType {
  const byFamily = cache.get(table) ?? cache.set(table, new Map()).get(table)!
  const hit = byFamily.get(family)
  if (hit) return hit
  const tree: Record<string, unknown> = {}
  for (const spec of table) {
    if (!spec.families.includes(family)) continue
    const parts = spec.key.split('.')
    let node = tree
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>
    node[parts.at(-1)!] = fieldSchema(spec)
  }
  const build = (node: Record<string, unknown>, nested: boolean): z.ZodType => {
    const shape = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, v instanceof z.ZodType ? v : build(v as Record<string, unknown>, true)]))
    const object = z.looseObject(shape)
    return nested ? object.nullish() : object
  }
  const schema = build(tree, false)
  byFamily.set(family, schema)
  return schema
}

export interface ReadOptions {
  family: string
  /** Where the config came from, the message's start: `path/config.json`. */
  where: string
  /** Display names of keys whose values were found elsewhere (RoPE: `rope_parameters.rope_theta`). */
  names?: Readonly<Record<string, string>>
}

/** `family`'s fields of `raw`, checked against `table`, defaults applied; a HybridizeError naming the first bad field. */
export function readFields(raw: Json, table: readonly FieldSpec[], opts: ReadOptions): Record<string, FieldValue> {
  const {family, where} = opts
  const name = (key: string) => opts.names?.[key] ?? key
  const specs = table.filter((s) => s.families.includes(family))
  const result = configSchema(table, family).safeParse(raw)
  if (!result.success) {
    // The field the first issue is in (an issue inside a list names the list's field).
    const path = result.error.issues[0].path.map(String)
    const keys = path.map((_, i) => path.slice(0, path.length - i).join('.'))
    const spec = specs.find((s) => keys.includes(s.key))
    const key = spec?.key ?? keys[0]
    const value = valueAt(raw, key)
    const must = spec ? describeField(spec) : 'an object'
    throw new HybridizeError(
      value === undefined || value === null ? `${where}: ${name(key)} is missing; it must be ${must}` : `${where}: ${name(key)} must be ${must}, got ${show(value)}`,
      {code: 'E_CONFIG'},
    )
  }
  const out: Record<string, FieldValue> = {}
  for (const spec of specs) out[spec.key] = (valueAt(raw, spec.key) ?? ('default' in spec ? spec.default : undefined)) as FieldValue
  return out
}

/** The value at a dotted key; undefined where a step is missing or not an object. */
function valueAt(raw: Json, key: string): unknown {
  let v: unknown = raw
  for (const part of key.split('.')) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined
    v = (v as Json)[part]
  }
  return v
}

/** A value as the message shows it: JSON, cut to a readable length. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}
