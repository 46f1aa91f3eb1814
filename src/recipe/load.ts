import {readFile, stat} from 'node:fs/promises'
import {HybridizeError} from '../errors.js'
import {parseRepoRef} from '../hub/repo-ref.js'
import {parseRecipe} from './parse.js'
import {keyError, type Recipe} from './recipe.js'

/** Reads, parses and checks a recipe file; a teacher that is not a folder must be a hub id. */
export async function loadRecipe(file: string): Promise<Recipe> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new HybridizeError(`no such recipe file: ${file}`, {code: 'E_RECIPE', exitCode: 2})
    throw err
  })
  const recipe = parseRecipe(text, file)
  const found = await stat(recipe.teacher).catch(() => undefined)
  if (found?.isDirectory()) return recipe
  const hub = found ? undefined : parseRepoRef(recipe.teacher)
  if (!hub) throw keyError(recipe, 'teacher', `no such model folder: ${recipe.teacher} (nor a hub id org/name[@revision])`)
  return {...recipe, hub}
}
