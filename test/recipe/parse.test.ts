import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {loadRecipe} from '../../src/recipe/load.js'
import {parseRecipe} from '../../src/recipe/parse.js'

/** Recipe files to typed recipes, and every kind of mistake as one located line. */
let dir: string
let teacher: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-recipe-parse-'))
  teacher = join(dir, 'teacher')
  await mkdir(teacher)
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

const parse = (text: string) => parseRecipe(text, 'r.yaml')

async function load(text: string) {
  const file = join(dir, 'r.yaml')
  await writeFile(file, text)
  return loadRecipe(file)
}

describe('parseRecipe', () => {
  it('reads the top-level keys and each section as its command\'s flags, in file order', () => {
    const r = parse([
      'teacher: t/', 'out: runs/x', 'device: cpu', 'seed: 3',
      'find_heads:', '  top_k: 2', '  random_draws: 0',
      'rewrite:',
      'distill:', '  data: brown', '  tokens: [1k, 2k, 4k]', '  lr: 1e-3',
      'eval:', '  tasks: [kv-retrieval, throughput]', '  log_samples: true', '  limit: 5',
    ].join('\n'))
    expect(r).toMatchObject({file: 'r.yaml', teacher: 't/', out: 'runs/x', device: 'cpu', seed: 3})
    expect([...r.sections.find_heads!]).toEqual([['top-k', '2'], ['random-draws', '0']])
    expect([...r.sections.rewrite!]).toEqual([])
    expect([...r.sections.distill!]).toEqual([['data', 'brown'], ['tokens', '1k,2k,4k'], ['lr', '0.001']])
    expect([...r.sections.eval!]).toEqual([['tasks', 'kv-retrieval,throughput'], ['log-samples', true], ['limit', '5']])
    expect(r.lines).toMatchObject({teacher: 1, seed: 4, find_heads: 5, 'find_heads.random_draws': 7, 'eval.limit': 16})
  })

  it('leaves out absent sections and boolean flags set to false', () => {
    const r = parse('teacher: t\nout: o\neval:\n  tasks: ppl:a.txt\n  log_samples: false\n')
    expect(Object.keys(r.sections)).toEqual(['eval'])
    expect([...r.sections.eval!]).toEqual([['tasks', 'ppl:a.txt']])
  })

  it.each([
    ['an unknown top-level key', 'teacher: t\nout: o\noutt: p\n', /^r\.yaml:3: outt: unknown key \(expected one of teacher, out, device, seed, find_heads/],
    ['an unknown section key', 'teacher: t\nout: o\nfind_heads:\n  sample: 3\n', /^r\.yaml:4: find_heads\.sample: unknown key \(expected one of task, samples, pairs/],
    ['a kebab-case key', 'teacher: t\nout: o\nfind_heads:\n  top-k: 3\n', /^r\.yaml:4: find_heads\.top-k: unknown key: recipe keys are snake_case \(top_k\)$/],
    ['a key the runner sets', 'teacher: t\nout: o\nrewrite:\n  out: x\n', /^r\.yaml:4: rewrite\.out: set by the runner/],
    ['a missing teacher', 'out: o\n', /^r\.yaml: teacher: required \(a model folder or org\/name\[@revision\]\)$/],
    ['a teacher that is not a string', 'teacher: 5\nout: o\n', /^r\.yaml:1: teacher: expected a model folder/],
    ['a seed that is not an integer', 'teacher: t\nout: o\nseed: 1.5\n', /^r\.yaml:3: seed: expected an integer$/],
    ['an unknown device', 'teacher: t\nout: o\ndevice: tpu\n', /^r\.yaml:3: device: expected one of auto, webgpu, cpu$/],
    ['a section that is not a mapping', 'teacher: t\nout: o\nrewrite: yes\n', /^r\.yaml:3: rewrite: expected a mapping of settings/],
    ['a list where one value goes', 'teacher: t\nout: o\nfind_heads:\n  samples: [1, 2]\n', /^r\.yaml:4: find_heads\.samples: expected a string or a number$/],
    ['a boolean flag given a word', 'teacher: t\nout: o\neval:\n  tasks: x\n  log_samples: yes\n', /^r\.yaml:5: eval\.log_samples: expected true or false$/],
    ['a section without a required key', 'teacher: t\nout: o\nfind_heads:\nrewrite:\ndistill:\n  tokens: 1k\n', /^r\.yaml:5: distill: data is required$/],
    ['a step without the step it reads', 'teacher: t\nout: o\nrewrite:\n  budget: 5%\n', /^r\.yaml:3: rewrite: needs a find_heads section \(the heads\.json it reads\)$/],
    ['a YAML syntax error', 'teacher: t\nout: o\nteacher: u\n', /^r\.yaml:3: Map keys must be unique/],
    ['a file that is not a mapping', '- a\n- b\n', /^r\.yaml:1: expected a mapping with the keys teacher, out/],
  ])('rejects %s in one line naming the line and key', (_, text, message) => {
    let error: Error | undefined
    try {
      parse(text)
    } catch (err) {
      error = err as Error
    }
    expect(error?.message).toMatch(message)
    expect(error?.message).not.toContain('\n')
    expect(error).toMatchObject({code: 'E_RECIPE', exitCode: 2})
  })
})

describe('loadRecipe', () => {
  it('checks values with the commands\' own flag rules, at the key\'s line', async () => {
    await expect(load(`teacher: ${teacher}\nout: o\nfind_heads:\n  samples: 0\n`)).rejects.toThrow(/r\.yaml:4: find_heads\.samples: expected an integer greater than or equal to 1 but received: 0$/)
    await expect(load(`teacher: ${teacher}\nout: o\nfind_heads:\n  task: poetry\n`)).rejects.toThrow(/r\.yaml:4: find_heads\.task: expected task=poetry to be one of: kv-retrieval, mc-retrieval, needle, arith-lookup$/)
    await expect(load(`teacher: ${teacher}\nout: o\nfind_heads:\n  samples: lots\n`)).rejects.toThrow(/r\.yaml:4: find_heads\.samples: expected an integer but received: lots$/)
  })

  it('checks budget: with the parser find-heads and rewrite use', async () => {
    await expect(load(`teacher: ${teacher}\nout: o\nfind_heads:\n  budget: 5%\nrewrite:\n  budget: 3\n`)).rejects.toThrow(/r\.yaml:6: rewrite\.budget: budget 3: a bare number is a fraction of the heads/)
    await expect(load(`teacher: ${teacher}\nout: o\nfind_heads:\n  budget: 150%\n`)).rejects.toThrow(/r\.yaml:4: find_heads\.budget: /)
    await expect(load(`teacher: ${teacher}\nout: o\nfind_heads:\n  budget: 0.05\nrewrite:\n  budget: 0.05\n`)).resolves.toBeDefined()
  })

  it('checks flags that exclude each other at the section\'s line', async () => {
    await expect(load(`teacher: ${teacher}\nout: o\nfind_heads:\n  budget: 5%\n  top_k: 2\n`)).rejects.toThrow(/r\.yaml:3: find_heads: budget=5% cannot also be provided when using top_k$/)
  })

  it('takes a folder teacher as is, and a hub id as a model to download', async () => {
    expect((await load(`teacher: ${teacher}\nout: o\n`)).hub).toBeUndefined()
    expect((await load('teacher: some-org/some-model@v1\nout: o\n')).hub).toEqual({repo: 'some-org/some-model', revision: 'v1'})
  })

  it('names the teacher key when the teacher is neither a folder nor a hub id', async () => {
    await expect(load(`out: o\nteacher: ${join(dir, 'nope')}\n`)).rejects.toThrow(/r\.yaml:2: teacher: no such model folder: .*nope \(nor a hub id org\/name\[@revision\]\)$/)
  })

  it('says when the recipe file is missing', async () => {
    await expect(loadRecipe(join(dir, 'missing.yaml'))).rejects.toThrow(/^no such recipe file: .*missing\.yaml$/)
  })
})
