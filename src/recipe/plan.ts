import {readdir, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {sanitizeModelName} from '../eval/report.js'
import {HybridizeError} from '../errors.js'
import {cachedSnapshot, hubCacheDir} from '../hub/cache.js'
import type {Recipe} from './recipe.js'
import {SECTION_NAMES, SECTIONS, type SectionName} from './sections.js'
import {readStepSettings, stepSettingsFile} from './step-settings.js'
import {commandLine, downloadStep, evalModels, outputOf, sectionStep, type StepCommand, type StepName} from './steps.js'

export type Action = 'run' | 'resume' | 'skip'

export interface PlannedStep extends StepCommand {
  output: string
  action: Action
  /** Why the step runs, resumes or is skipped, as the plan says it (before any step runs). */
  reason: string
  /** The steps it reads that run before it: why it runs (said as "ran" once they have). */
  after?: StepName[]
  /**
   * A stale output to remove before running: one the command would refuse, or mix its new files
   * with. Only ever an output this recipe wrote (steps.json names its step), or with --force.
   */
  clear?: string
  /** A section step's settings: its command line without the device, recorded in `<out>/steps.json`. */
  settings?: string
}

/** `resumable`: a distillation stopped after a checkpoint. */
type OutputState = 'complete' | 'resumable' | 'partial' | 'missing'

/**
 * The steps of a recipe in order, each to run, resume or skip. A step is skipped when its output is
 * complete, unless `force`, a step it reads runs, or the output was made with other settings; an
 * interrupted distillation resumes. A hub teacher already in the cache is not downloaded again,
 * even with `force`: the cache is shared.
 *
 * An output is replaced only when this recipe wrote it: `steps.json` records a step before its
 * command starts, so a step it names made that output (whole or interrupted). Anything else already
 * at an output's place is the user's, and is refused unless the user passes `force`.
 */
export async function planRecipe(recipe: Recipe, options: {force?: boolean} = {}): Promise<PlannedStep[]> {
  const plan: PlannedStep[] = []
  if (recipe.hub) {
    const cached = await cachedSnapshot(hubCacheDir(), recipe.hub)
    plan.push({
      ...downloadStep(recipe),
      output: cached?.path ?? hubCacheDir(),
      ...(cached ? {action: 'skip', reason: 'in the Hugging Face cache'} : {action: 'run', reason: 'not in the Hugging Face cache'}),
    })
  }
  const acting = new Set<StepName>()
  const recorded = await readStepSettings(recipe.out)
  for (const name of SECTION_NAMES) {
    if (!recipe.sections[name]) continue
    const output = outputOf(recipe, name)
    const upstream = SECTIONS[name].reads.filter((r) => acting.has(r))
    const state = await outputState(recipe, name)
    const settings = commandLine(sectionStep({...recipe, device: undefined}, name))
    const decision: {action: Action; reason: string} =
      options.force ? {action: 'run', reason: '--force'}
      : upstream.length > 0 ? {action: 'run', reason: `${upstream.join(' and ')} will run first`}
      : state !== 'missing' && recorded[name] !== undefined && recorded[name] !== settings ? {action: 'run', reason: 'settings changed'}
      : state === 'complete' ? {action: 'skip', reason: 'output complete'}
      : state === 'resumable' ? {action: 'resume', reason: 'interrupted run'}
      : {action: 'run', reason: state === 'partial' ? 'output incomplete' : 'no output yet'}
    if (decision.action !== 'skip') acting.add(name)
    const replace = decision.action === 'run' && state !== 'missing'
    if (replace && recorded[name] === undefined && !options.force) {
      throw new HybridizeError(
        `${output} already exists and this recipe did not write it (${stepSettingsFile(recipe.out)} names no ${name} step); move it away, choose another out:, or pass --force to replace it`,
        {code: 'E_EXISTS'},
      )
    }
    const clear = replace && (name === 'distill' || name === 'eval') ? output : undefined
    const after = !options.force && upstream.length > 0 ? {after: upstream} : {}
    plan.push({...sectionStep(recipe, name, {resume: decision.action === 'resume', replace}), output, ...decision, ...after, ...(clear ? {clear} : {}), settings})
  }
  return plan
}

/** Whether a step's output is all there. Every command writes atomically, so a file present is a file complete. */
async function outputState(recipe: Recipe, name: SectionName): Promise<OutputState> {
  const out = outputOf(recipe, name)
  const has = async (...parts: string[]): Promise<boolean> => (await stat(join(...parts)).catch(() => undefined)) !== undefined
  switch (name) {
    case 'find_heads': return (await has(out)) ? ((await has(out.replace(/\.json$/, '.svg'))) ? 'complete' : 'partial') : 'missing'
    case 'rewrite': return (await has(out, 'config.json')) ? 'complete' : (await has(out)) ? 'partial' : 'missing'
    case 'distill': return (await has(out, 'student', 'config.json')) ? 'complete' : (await has(out, 'checkpoints', 'last')) ? 'resumable' : (await has(out)) ? 'partial' : 'missing'
    case 'eval': {
      const evaluated = await Promise.all(evalModels(recipe).map(async (m) => (await readdir(join(out, sanitizeModelName(m))).catch(() => [])).some((f) => /^results_.*\.json$/.test(f))))
      return evaluated.every(Boolean) ? 'complete' : evaluated.some(Boolean) || (await has(out)) ? 'partial' : 'missing'
    }
  }
}
