import {describe, expect, it} from 'vitest'
import {parseRecipe} from '../../src/recipe/parse.js'
import {planRecipe} from '../../src/recipe/plan.js'

/** A recipe's sections as the values its steps run with: typed by the schema, never re-read from argv. */
describe('recipe values', () => {
  const recipe = parseRecipe([
    'teacher: t', 'out: o', 'device: cpu', 'seed: 3',
    'find_heads:', '  top_k: 2', '  random_draws: 0',
    'rewrite:', '  budget: 5%',
    'distill:', '  data: brown', '  tokens: [1k, 2k]', '  stage: [2, 3]', '  lr: 1e-3', '  recompute: true',
    'eval:', '  tasks: [kv-retrieval, throughput]', '  log_samples: false', '  limit: 5',
  ].join('\n'), 'r.yaml')

  it('keeps integers as numbers, joins lists, and writes string flags as their text', () => {
    expect(recipe.values).toEqual({
      find_heads: {'top-k': 2, 'random-draws': 0},
      rewrite: {budget: '5%'},
      distill: {data: 'brown', tokens: '1k,2k', stage: '2,3', lr: '0.001', recompute: true},
      eval: {tasks: 'kv-retrieval,throughput', 'log-samples': false, limit: 5},
    })
  })

  it('gives each step the runner\'s inputs, outputs, device and seed beside the section\'s values', async () => {
    const steps = await planRecipe(recipe)
    expect(steps.map((s) => [s.name, s.args, s.flags])).toEqual([
      ['find_heads', ['t'], {'top-k': 2, 'random-draws': 0, out: 'o/heads.json', device: 'cpu', seed: 3}],
      ['rewrite', ['t'], {budget: '5%', heads: 'o/heads.json', out: 'o/hybrid'}],
      ['distill', ['o/hybrid'], {data: 'brown', tokens: '1k,2k', stage: '2,3', lr: '0.001', recompute: true, teacher: 't', out: 'o/distill', device: 'cpu', seed: 3}],
      ['eval', ['t', 'o/hybrid', 'o/distill/student'], {tasks: 'kv-retrieval,throughput', 'log-samples': false, limit: 5, 'output-path': 'o/eval', device: 'cpu', seed: 3}],
    ])
  })

  it('refuses two keys that exclude each other when the recipe is parsed, before any step', () => {
    expect(() => parseRecipe('teacher: t\nout: o\nfind_heads:\n  top_k: 2\n  budget: 5%\n', 'r.yaml')).toThrow(/^r\.yaml:3: find_heads: budget=5% cannot also be provided when using top_k$/)
    expect(() => parseRecipe('teacher: t\nout: o\neval:\n  tasks: arith-cot\n  num_samples: 4\n  time_budget: 10s\n', 'r.yaml')).toThrow(/^r\.yaml:3: eval: num_samples=4 cannot also be provided when using time_budget$/)
  })
})
