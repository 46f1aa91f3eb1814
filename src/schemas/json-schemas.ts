import {z} from 'zod'
import {headsFileSchema} from '../heads/heads-schema.js'
import {recipeSchema} from '../recipe/schema.js'

/** The files `hybridize schema` describes, each by the zod schema the code validates it with. */
export const SCHEMA_NAMES = ['recipe', 'heads'] as const
export type SchemaName = (typeof SCHEMA_NAMES)[number]

const schemas: Record<SchemaName, () => z.ZodType> = {recipe: recipeSchema, heads: () => headsFileSchema}

/**
 * The JSON Schema (draft 2020-12) of a file hybridize reads, as committed under schemas/: the
 * input side of the zod schema (what a file may hold), with `$schema`, `$id`, title and
 * description first, for editors (VS Code's YAML extension reads `$id`/title).
 */
export function jsonSchema(name: SchemaName): Record<string, unknown> {
  const {$schema, $id, title, description, ...rest} = z.toJSONSchema(schemas[name](), {target: 'draft-2020-12', io: 'input'}) as Record<string, unknown>
  return {$schema, $id, title, description, ...rest}
}
