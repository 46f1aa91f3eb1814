import {Args} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {jsonSchema, SCHEMA_NAMES} from '../schemas/json-schemas.js'

export default class Schema extends BaseCommand {
  static override summary = 'Print the JSON Schema of a recipe or of a heads.json.'

  static override description = `Prints the JSON Schema (draft 2020-12) generated from the definitions hybridize itself validates
recipes and heads.json with, for editors and CI. The same schemas are committed as
schemas/recipe.schema.json and schemas/heads.schema.json; a recipe names its schema on its first
line for VS Code's YAML extension (and other yaml-language-server editors):

  # yaml-language-server: $schema=../schemas/recipe.schema.json`

  static override examples = [
    '<%= config.bin %> <%= command.id %> recipe > recipe.schema.json',
    '<%= config.bin %> <%= command.id %> heads',
  ]

  static override args = {
    name: Args.string({required: true, options: [...SCHEMA_NAMES], description: 'Which file: recipe (hybridize run) or heads (find-heads\' heads.json).'}),
  }

  async run(): Promise<Record<string, unknown>> {
    const {args} = await this.parse(Schema)
    const schema = jsonSchema(args.name as (typeof SCHEMA_NAMES)[number])
    if (!this.jsonEnabled()) this.log(JSON.stringify(schema, null, 2))
    return schema
  }
}
