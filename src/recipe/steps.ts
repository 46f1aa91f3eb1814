import {join} from 'node:path'
import {commandLine as quotedCommandLine} from '../cli/command-line.js'
import type {FlagValues, Recipe} from './recipe.js'
import {SECTIONS, type SectionName} from './sections.js'

export type StepName = 'download' | SectionName

/** One step: what it runs with, and the command line a user would type for the same. */
export interface StepCommand {
  name: StepName
  /** The command id of the equivalent command line. */
  id: string
  /** The equivalent command line's arguments (what --dry-run prints and steps.json records). */
  argv: string[]
  /** The step's models: the command's positional arguments. */
  args: string[]
  /** Its flags' values: the section's keys, then the runner's (inputs, outputs, device, seed); a flag left out takes its default. */
  flags: FlagValues
}

/** A flag the runner sets: its name and value (`true`: a boolean flag set). */
type RunnerFlag = [flag: string, value: string | number | true]

/** What a section's step writes: `<out>/heads.json`, `<out>/hybrid`, `<out>/distill`, `<out>/eval`. */
export function outputOf(recipe: Recipe, name: SectionName): string {
  return join(recipe.out, SECTIONS[name].output)
}

/** The models eval compares: the teacher, then each student the recipe makes. */
export function evalModels(recipe: Recipe): string[] {
  const students = [
    ...(recipe.sections.rewrite ? [outputOf(recipe, 'rewrite')] : []),
    ...(recipe.sections.distill ? [join(outputOf(recipe, 'distill'), 'student')] : []),
  ]
  return [recipe.teacher, ...students]
}

export function downloadStep(recipe: Recipe): StepCommand {
  return {name: 'download', id: 'download', argv: [recipe.teacher], args: [recipe.teacher], flags: {}}
}

/**
 * A section's step: its recipe keys, then what the runner sets (inputs and outputs under `out`,
 * the device, and the recipe's seed where the section sets none). `resume` continues an
 * interrupted distillation with the settings it started with; `replace` lets find-heads and rewrite
 * replace their existing output (planRecipe decides when that is allowed).
 */
export function sectionStep(recipe: Recipe, name: SectionName, options: {resume?: boolean; replace?: boolean} = {}): StepCommand {
  const {resume = false, replace = false} = options
  const spec = SECTIONS[name]
  const own = recipe.sections[name] ?? new Map()
  const out = outputOf(recipe, name)
  const device: RunnerFlag[] = recipe.device === undefined ? [] : [['device', recipe.device]]
  const seed: RunnerFlag[] = recipe.seed !== undefined && 'seed' in spec.flags && !own.has('seed') ? [['seed', recipe.seed]] : []
  const force: RunnerFlag[] = replace ? [['force', true]] : []
  // The runner's flags before and after the section's own, as the command lines put them.
  const {args, before = [], after = []} = ((): {args: string[]; before?: RunnerFlag[]; after?: RunnerFlag[]} => {
    switch (name) {
      case 'find_heads': return {args: [recipe.teacher], after: [['out', out], ...device, ...seed, ...force]}
      case 'rewrite': return {args: [recipe.teacher], before: [['heads', outputOf(recipe, 'find_heads')]], after: [['out', out], ...force]}
      case 'distill': return resume
        ? {args: [], before: [['resume', true], ['out', out], ...device]}
        : {args: [outputOf(recipe, 'rewrite')], before: [['teacher', recipe.teacher]], after: [['out', out], ...device, ...seed]}
      case 'eval': return {args: evalModels(recipe), after: [['output-path', out], ...device, ...seed]}
    }
  })()
  // A resumed distillation runs with its checkpoint's settings, not the section's.
  const section = resume ? {argv: [], values: {}} : {argv: flagArguments(own), values: recipe.values[name] ?? {}}
  return {
    name,
    id: spec.id,
    argv: [...args, ...flagArguments(before), ...section.argv, ...flagArguments(after)],
    args,
    flags: {...section.values, ...Object.fromEntries(before), ...Object.fromEntries(after)},
  }
}

/** `--flag value`, or `--flag=value` where the value starts with a dash and would read as a flag. */
function flagArguments(flags: Iterable<[string, string | number | true]>): string[] {
  return [...flags].flatMap(([flag, value]) => {
    if (value === true) return [`--${flag}`]
    const text = String(value)
    return text.startsWith('-') ? [`--${flag}=${text}`] : [`--${flag}`, text]
  })
}

/** The step as a shell command line. */
export function commandLine(step: StepCommand): string {
  return quotedCommandLine(step.id, step.argv)
}
