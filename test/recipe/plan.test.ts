import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi} from 'vitest'
import {sanitizeModelName} from '../../src/eval/report.js'
import {parseRecipe} from '../../src/recipe/parse.js'
import {planRecipe} from '../../src/recipe/plan.js'
import type {SectionName} from '../../src/recipe/sections.js'
import {recordStepSettings} from '../../src/recipe/step-settings.js'
import type {Recipe} from '../../src/recipe/recipe.js'

/** Which steps run, resume or are skipped, from the outputs on disk (written by hand here). */
let dir: string
let out: string
let recipe: Recipe

const FULL = (teacher: string, out: string) => `teacher: ${teacher}
out: ${out}
seed: 5
find_heads:
  samples: 4
rewrite:
  budget: 25%
distill:
  data: brown
  tokens: 1k
  seed: 9
eval:
  tasks: kv-retrieval
`

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-recipe-plan-'))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})
beforeEach(async () => {
  out = join(dir, 'out')
  await rm(out, {recursive: true, force: true})
  recipe = parseRecipe(FULL(join(dir, 'teacher'), out), 'r.yaml')
})

async function touch(...parts: string[]): Promise<void> {
  const file = join(out, ...parts)
  await mkdir(dirname(file), {recursive: true})
  await writeFile(file, '{}')
}

/** Steps as the runner records them before their commands start: the outputs are this recipe's. */
async function recordAll(): Promise<void> {
  for (const s of await planRecipe(recipe, {force: true})) if (s.name !== 'download') await recordStepSettings(out, s.name, s.settings!)
}

/** Every output complete, as the commands (run by this recipe) would have left them. */
async function complete(): Promise<void> {
  await recordAll()
  await touch('heads.json')
  await touch('heads.svg')
  await touch('hybrid', 'config.json')
  await touch('distill', 'student', 'config.json')
  for (const model of [join(dir, 'teacher'), join(out, 'hybrid'), join(out, 'distill', 'student')]) {
    await touch('eval', sanitizeModelName(model), 'results_2025-01-01.json')
  }
}

const actions = async (options: {force?: boolean} = {}) => (await planRecipe(recipe, options)).map((s) => [s.name, s.action, s.reason])

describe('planRecipe', () => {
  it('runs every step when nothing is there, with the command lines a user would type', async () => {
    const plan = await planRecipe(recipe)
    expect(plan.map((s) => [s.name, s.action, s.reason, s.output])).toEqual([
      ['find_heads', 'run', 'no output yet', join(out, 'heads.json')],
      ['rewrite', 'run', 'find_heads will run first', join(out, 'hybrid')],
      ['distill', 'run', 'rewrite will run first', join(out, 'distill')],
      ['eval', 'run', 'rewrite and distill will run first', join(out, 'eval')],
    ])
    const teacher = join(dir, 'teacher')
    expect(plan.map((s) => [s.id, ...s.argv])).toEqual([
      ['find-heads', teacher, '--samples', '4', '--out', join(out, 'heads.json'), '--seed', '5'],
      ['rewrite', teacher, '--heads', join(out, 'heads.json'), '--budget', '25%', '--out', join(out, 'hybrid')],
      ['distill', join(out, 'hybrid'), '--teacher', teacher, '--data', 'brown', '--tokens', '1k', '--seed', '9', '--out', join(out, 'distill')],
      ['eval', teacher, join(out, 'hybrid'), join(out, 'distill', 'student'), '--tasks', 'kv-retrieval', '--output-path', join(out, 'eval'), '--seed', '5'],
    ])
    expect(plan.some((s) => s.clear)).toBe(false)
  })

  it('skips a step whose output is complete, and reruns the steps that read a step that runs', async () => {
    await recordAll()
    await touch('heads.json')
    await touch('heads.svg')
    expect((await actions())[0]).toEqual(['find_heads', 'skip', 'output complete'])
    await complete()
    expect((await actions()).map(([, action]) => action)).toEqual(['skip', 'skip', 'skip', 'skip'])
    await rm(join(out, 'heads.svg'))
    expect(await actions()).toEqual([
      ['find_heads', 'run', 'output incomplete'],
      ['rewrite', 'run', 'find_heads will run first'],
      ['distill', 'run', 'rewrite will run first'],
      ['eval', 'run', 'rewrite and distill will run first'],
    ])
  })

  it('reruns a complete step whose recorded settings differ from the recipe\'s, and the steps reading it', async () => {
    await complete()
    const settings = Object.fromEntries((await planRecipe(recipe)).map((s) => [s.name, s.settings!]))
    expect(settings.rewrite).toBe(`hybridize rewrite ${join(dir, 'teacher')} --heads ${join(out, 'heads.json')} --budget 25% --out ${join(out, 'hybrid')}`)
    for (const [name, line] of Object.entries(settings)) await recordStepSettings(out, name as SectionName, line)
    // The device is not a setting: results do not depend on it.
    expect((await planRecipe({...recipe, device: 'webgpu'})).map((s) => s.action)).toEqual(['skip', 'skip', 'skip', 'skip'])
    recipe.sections.rewrite!.set('budget', '10%')
    const plan = await planRecipe(recipe)
    expect(plan[1].argv.at(-1)).toBe('--force') // the recipe's own hybrid/ is replaced
    expect(await actions()).toEqual([
      ['find_heads', 'skip', 'output complete'],
      ['rewrite', 'run', 'settings changed'],
      ['distill', 'run', 'rewrite will run first'],
      ['eval', 'run', 'rewrite and distill will run first'],
    ])
  })

  it('reruns only eval when one model\'s results are missing, clearing the old results first', async () => {
    await complete()
    await rm(join(out, 'eval', sanitizeModelName(join(out, 'hybrid'))), {recursive: true})
    const plan = await planRecipe(recipe)
    expect(plan.map((s) => s.action)).toEqual(['skip', 'skip', 'skip', 'run'])
    expect(plan[3]).toMatchObject({reason: 'output incomplete', clear: join(out, 'eval')})
  })

  it('resumes an interrupted distillation with the settings it started with', async () => {
    await complete()
    await rm(join(out, 'distill', 'student'), {recursive: true})
    await touch('distill', 'checkpoints', 'last')
    const plan = await planRecipe(recipe)
    expect(plan.map((s) => [s.name, s.action])).toEqual([['find_heads', 'skip'], ['rewrite', 'skip'], ['distill', 'resume'], ['eval', 'run']])
    expect(plan[2].argv).toEqual(['--resume', '--out', join(out, 'distill')])
    expect(plan[2].clear).toBeUndefined()
  })

  it('never replaces an output this recipe did not write, unless the user passes --force', async () => {
    // The user's own folder where the hybrid would go, and no steps.json naming a rewrite step.
    await touch('hybrid', 'important.txt')
    await touch('heads.json')
    await touch('heads.svg')
    await recordStepSettings(out, 'find_heads', (await planRecipe(recipe, {force: true}))[0].settings!)
    await expect(planRecipe(recipe)).rejects.toThrow(new RegExp(`^${join(out, 'hybrid')} already exists and this recipe did not write it \\(.*steps\\.json names no rewrite step\\); move it away, choose another out:, or pass --force to replace it$`))
    const forced = await planRecipe(recipe, {force: true})
    expect(forced[1].argv.at(-1)).toBe('--force')
    // find-heads too is told to replace a heads.json only when the recipe may.
    expect(forced[0].argv.at(-1)).toBe('--force')
    // A user's distill/ or eval/ folder likewise: never cleared without --force.
    await rm(join(out, 'hybrid'), {recursive: true})
    await touch('distill', 'notes.txt')
    await expect(planRecipe(recipe)).rejects.toThrow(/distill already exists and this recipe did not write it/)
    expect((await planRecipe(recipe, {force: true}))[2].clear).toBe(join(out, 'distill'))
  })

  it('reruns everything under --force, clearing the outputs a command would refuse or add to', async () => {
    await complete()
    const plan = await planRecipe({...recipe, device: 'cpu'}, {force: true})
    expect(plan.map((s) => [s.action, s.reason])).toEqual(Array(4).fill(['run', '--force']))
    expect(plan.map((s) => s.clear)).toEqual([undefined, undefined, join(out, 'distill'), join(out, 'eval')])
    expect(plan.filter((s) => s.argv.includes('--device')).map((s) => s.name)).toEqual(['find_heads', 'distill', 'eval'])
  })

  describe('a hub teacher', () => {
    let cache: string
    beforeEach(async () => {
      cache = join(dir, 'hub')
      vi.stubEnv('HF_HUB_CACHE', cache)
      recipe = {...parseRecipe('teacher: org/model\nout: o\nfind_heads:\n', 'r.yaml'), hub: {repo: 'org/model'}}
    })
    afterEach(() => {
      vi.unstubAllEnvs()
    })

    it('is downloaded first unless the cache has it', async () => {
      expect((await planRecipe(recipe)).map((s) => [s.name, s.action, s.argv])).toEqual([
        ['download', 'run', ['org/model']],
        ['find_heads', 'run', ['org/model', '--out', join('o', 'heads.json')]],
      ])
      const commit = 'a'.repeat(40)
      await mkdir(join(cache, 'models--org--model', 'refs'), {recursive: true})
      await writeFile(join(cache, 'models--org--model', 'refs', 'main'), commit)
      await mkdir(join(cache, 'models--org--model', 'snapshots', commit), {recursive: true})
      const plan = await planRecipe(recipe, {force: true})
      expect(plan[0]).toMatchObject({name: 'download', action: 'skip', output: join(cache, 'models--org--model', 'snapshots', commit)})
    })
  })
})
