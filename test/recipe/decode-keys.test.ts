import {describe, expect, it} from 'vitest'
import {parseRecipe} from '../../src/recipe/parse.js'

/** A recipe's eval section takes eval's --precision and --kv-cache-dtype as precision and kv_cache_dtype. */
describe('recipe eval: precision and kv_cache_dtype', () => {
  it('takes them as the command line does', () => {
    const recipe = parseRecipe('teacher: t\nout: o\neval:\n  tasks: arith-cot\n  precision: mixed\n  kv_cache_dtype: f16\n', 'r.yaml')
    expect(recipe.values.eval).toEqual({tasks: 'arith-cot', precision: 'mixed', 'kv-cache-dtype': 'f16'})
  })

  it('refuses a value that is not one of the choices, naming the key', () => {
    expect(() => parseRecipe('teacher: t\nout: o\neval:\n  tasks: arith-cot\n  precision: bf16\n', 'r.yaml')).toThrow(/^r\.yaml:5: eval\.precision: expected precision=bf16 to be one of: f32, mixed$/)
    expect(() => parseRecipe('teacher: t\nout: o\neval:\n  tasks: arith-cot\n  kv_cache_dtype: f8\n', 'r.yaml')).toThrow(/kv_cache_dtype=f8 to be one of: f32, f16/)
  })
})
