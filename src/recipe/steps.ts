import {join} from 'node:path'
import Download from '../commands/download.js'
import type {Recipe, StepFlags} from './recipe.js'
import {SECTIONS, type CommandClass, type SectionName} from './sections.js'

export type StepName = 'download' | SectionName

/** One step as the command it runs: the same arguments a user would type. */
export interface StepCommand {
  name: StepName
  id: string
  command: CommandClass
  argv: string[]
}

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
  return {name: 'download', id: 'download', command: Download, argv: [recipe.teacher]}
}

/**
 * A section's command: its recipe keys as flags, then what the runner sets (inputs and outputs under
 * `out`, the device, and the recipe's seed where the section sets none). `resume` continues an
 * interrupted distillation with the settings it started with; `replace` lets find-heads and rewrite
 * replace their existing output (planRecipe decides when that is allowed).
 */
export function sectionStep(recipe: Recipe, name: SectionName, options: {resume?: boolean; replace?: boolean} = {}): StepCommand {
  const {resume = false, replace = false} = options
  const spec = SECTIONS[name]
  const flags = recipe.sections[name] ?? new Map()
  const own = flagArguments(flags)
  const out = outputOf(recipe, name)
  const device = recipe.device === undefined ? [] : ['--device', recipe.device]
  const seed = recipe.seed !== undefined && 'seed' in spec.command.flags && !flags.has('seed') ? ['--seed', String(recipe.seed)] : []
  const argv = (() => {
    switch (name) {
      case 'find_heads': return [recipe.teacher, ...own, '--out', out, ...device, ...seed, ...(replace ? ['--force'] : [])]
      case 'rewrite': return [recipe.teacher, '--heads', outputOf(recipe, 'find_heads'), ...own, '--out', out, ...(replace ? ['--force'] : [])]
      case 'distill': return resume
        ? ['--resume', '--out', out, ...device]
        : [outputOf(recipe, 'rewrite'), '--teacher', recipe.teacher, ...own, '--out', out, ...device, ...seed]
      case 'eval': return [...evalModels(recipe), ...own, '--output-path', out, ...device, ...seed]
    }
  })()
  return {name, id: spec.id, command: spec.command, argv}
}

/** `--flag value`, or `--flag=value` where the value starts with a dash and would read as a flag. */
export function flagArguments(flags: StepFlags): string[] {
  return [...flags].flatMap(([flag, value]) => (value === true ? [`--${flag}`] : value.startsWith('-') ? [`--${flag}=${value}`] : [`--${flag}`, value]))
}

/** The step as a shell command line. */
export function commandLine(step: StepCommand): string {
  return ['hybridize', step.id, ...step.argv].map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`)).join(' ')
}
