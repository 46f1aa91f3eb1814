import {rm} from 'node:fs/promises'
import type {StepIO} from '../cli/steps/io.js'
import {HybridizeError} from '../errors.js'
import {runStep} from './run-step.js'
import {recordStepSettings} from './step-settings.js'
import type {PlannedStep} from './plan.js'
import {commandLine, type StepName} from './steps.js'

/** `not-run`: a step after an interrupted one. */
export type StepStatus = 'ran' | 'skipped' | 'interrupted' | 'not-run'

export interface StepReport {
  step: StepName
  status: StepStatus
  output: string
  seconds: number
  /** The equivalent command line. */
  command: string
}

export interface ExecuteContext {
  /** The recipe's out folder, whose steps.json records each step's settings as it starts. */
  out: string
  /** The steps' stdout lines (tables, summaries), and their and the runner's status and progress lines. */
  io: StepIO
  /** No progress on stderr (--quiet or --json): a download's progress bars too. */
  quiet: boolean
}

/**
 * Runs the plan's steps in order, each through the library as its command would. A distillation stopped by Ctrl-C
 * (checkpoint saved) ends the run there; the next run resumes it. Earlier steps' outputs stay, as
 * every command writes atomically.
 */
export async function executePlan(plan: PlannedStep[], ctx: ExecuteContext): Promise<StepReport[]> {
  const reports: StepReport[] = []
  let stopped = false
  for (const step of plan) {
    const report = {step: step.name, output: step.output, seconds: 0, command: commandLine(step)}
    if (stopped || step.action === 'skip') {
      if (!stopped) ctx.io.status(`${step.name}: skipped (${step.reason}: ${step.output}; --force reruns it)`)
      reports.push({...report, status: stopped ? 'not-run' : 'skipped'})
      continue
    }
    const reason = step.after ? `${step.after.join(' and ')} ran` : step.reason
    ctx.io.status(`${step.name}: ${step.action === 'resume' ? 'resuming' : 'running'} (${reason}): ${report.command}`)
    if (step.clear) await rm(step.clear, {recursive: true, force: true})
    if (step.settings !== undefined && step.name !== 'download') await recordStepSettings(ctx.out, step.name, step.settings)
    const started = performance.now()
    const completed = await runStep(step, ctx.io, {quiet: ctx.quiet}).catch((err: unknown) => {
      throw err instanceof HybridizeError ? new HybridizeError(`${step.name}: ${err.message}`, {code: err.code, exitCode: err.exitCode, cause: err}) : err
    })
    const seconds = Math.round(performance.now() - started) / 1000
    stopped = !completed
    ctx.io.status(stopped ? `${step.name}: interrupted after ${seconds.toFixed(1)} s; run the recipe again to resume it` : `${step.name}: done in ${seconds.toFixed(1)} s: ${step.output}`)
    reports.push({...report, seconds, status: stopped ? 'interrupted' : 'ran'})
  }
  return reports
}
