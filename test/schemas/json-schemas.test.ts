import {readdirSync, readFileSync} from 'node:fs'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse as parseYaml} from 'yaml'
import {headsFileSchema} from '../../src/heads/heads-schema.js'
import {readHeadsFile} from '../../src/rewrite/heads-file.js'
import {recipeSchema} from '../../src/recipe/schema.js'
import {runCli} from '../helpers/cli.js'
import {repoRoot} from '../helpers/paths.js'

/**
 * The JSON Schemas under schemas/ are what `hybridize schema` prints from the zod schemas the code
 * validates with, so they cannot drift; the committed recipes name and pass theirs. (A heads.json
 * find-heads writes passes its schema: test/heads/find-heads-cli.test.ts.)
 */
let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-schemas-'))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('hybridize schema', () => {
  it.each(['recipe', 'heads'])('prints the committed schemas/%s.schema.json, draft 2020-12 with $id, title and description', (name) => {
    const r = runCli(['schema', name])
    expect(r.status, r.stderr).toBe(0)
    const printed = JSON.parse(r.stdout)
    expect(printed).toEqual(JSON.parse(readFileSync(join(repoRoot, 'schemas', `${name}.schema.json`), 'utf8')))
    expect(printed).toMatchObject({$schema: 'https://json-schema.org/draft/2020-12/schema', $id: `urn:hybridize:schema:${name}`, type: 'object'})
    expect(printed.title).toMatch(/^hybridize /)
    expect(printed.description).toBeTypeOf('string')
  })

  it('derives each section from its command\'s flags: types, choices, ranges, required keys', () => {
    const recipe = JSON.parse(readFileSync(join(repoRoot, 'schemas', 'recipe.schema.json'), 'utf8'))
    const findHeads = recipe.properties.find_heads.anyOf[0]
    expect(findHeads.properties.pairs).toMatchObject({type: 'integer', minimum: 1, maximum: 100, default: 20})
    expect(findHeads.properties.task.enum).toEqual(['kv-retrieval', 'mc-retrieval', 'needle', 'arith-lookup'])
    expect(findHeads.properties.out).toBeUndefined()
    expect(recipe.properties.eval.anyOf[0].properties.log_samples.type).toBe('boolean')
    expect(recipe.properties.distill.anyOf[0].required).toEqual(['data'])
    expect(recipe.required).toEqual(['teacher', 'out'])
  })

  it('refuses an unknown name as a usage error', () => {
    const r = runCli(['schema', 'config'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/^hybridize: error: Expected config to be one of: recipe, heads/)
  })
})

describe('the committed files', () => {
  const recipes = readdirSync(join(repoRoot, 'recipes')).filter((f) => f.endsWith('.yaml'))

  it.each(recipes)('recipes/%s names the committed schema and validates against it', (file) => {
    const text = readFileSync(join(repoRoot, 'recipes', file), 'utf8')
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schemas/recipe.schema.json')
    expect(recipeSchema().safeParse(parseYaml(text)).error).toBeUndefined()
  })

  it('a heads.json that breaks the schema is refused in one line naming the field', async () => {
    const file = join(dir, 'bad-heads.json')
    await writeFile(file, JSON.stringify({model: 'org/name', selected: [[0, 1], [0, 'x']]}))
    expect(headsFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8'))).success).toBe(false)
    await expect(readHeadsFile(file)).rejects.toThrow(/bad-heads\.json: selected\[1\]: not a \[layer, head\] pair \(see hybridize schema heads\)$/)
  })
})
