import {HybridizeError} from '../errors.js'
import type {RepoRef} from '../hub/repo-ref.js'
import type {SectionName} from './sections.js'

export const DEVICES = ['auto', 'webgpu', 'cpu'] as const
export type Device = (typeof DEVICES)[number]

/** One step's settings as its command's flags: kebab-case flag -> value (`true`: a boolean flag set), in the file's order. */
export type StepFlags = Map<string, string | true>

/** Flag values as the command's parser gives them: kebab-case flag -> text, integer or boolean. */
export type FlagValues = Record<string, string | number | boolean>

/** A validated recipe file. Paths are as written: relative ones are relative to the current folder. */
export interface Recipe {
  /** The recipe file, as given on the command line. */
  file: string
  /** A model folder, or `org/name[@revision]` on the Hugging Face hub. */
  teacher: string
  /** Set when `teacher` names a hub model rather than a folder: the run downloads it first. */
  hub?: RepoRef
  /** The folder every step writes under. */
  out: string
  device?: Device
  seed?: number
  /** The step sections present in the file (a section written with no keys is present), as written: the equivalent command lines. */
  sections: Partial<Record<SectionName, StepFlags>>
  /** The same sections' values as the schema checked them: what the steps run with. */
  values: Partial<Record<SectionName, FlagValues>>
  /** The line of each key (`teacher`, `distill`, `distill.tokens`), for error messages. */
  lines: Record<string, number>
}

/** A mistake in a recipe, as one line: `file:line: message`. */
export function recipeError(file: string, line: number | undefined, message: string): HybridizeError {
  return new HybridizeError(`${line === undefined ? file : `${file}:${line}`}: ${message}`, {code: 'E_RECIPE', exitCode: 2})
}

/** A mistake in the value of `key` (e.g. `distill.tokens`), located at its line. */
export function keyError(recipe: Pick<Recipe, 'file' | 'lines'>, key: string, message: string): HybridizeError {
  return recipeError(recipe.file, recipe.lines[key], `${key}: ${message}`)
}
