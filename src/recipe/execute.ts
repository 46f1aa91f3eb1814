import {rm} from 'node:fs/promises'
import type {Config} from '@oclif/core'
import {HybridizeError} from '../errors.js'
import {runInProcess} from './in-process.js'
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
  config: Config
  /** The recipe's out folder, whose steps.json records each step's settings as it starts. */
  out: string
  /** Arguments every step's command gets as well (--quiet, --no-color). */
  commonArgs: string[]
  /** The steps' own stdout lines (tables, summaries). */
  log: (line: string) => void
  /** The runner's progress lines. */
  status: (line: string) => void
}

/**
 * Runs the plan's steps in order, each command in this process. A distillation stopped by Ctrl-C
 * (checkpoint saved) ends the run there; the next run resumes it. Earlier steps' outputs stay, as
 * every command writes atomically.
 */
export async function executePlan(plan: PlannedStep[], ctx: ExecuteContext): Promise<StepReport[]> {
  const reports: StepReport[] = []
  let stopped = false
  for (const step of plan) {
    const report = {step: step.name, output: step.output, seconds: 0, command: commandLine(step)}
    if (stopped || step.action === 'skip') {
      if (!stopped) ctx.status(`${step.name}: skipped (${step.reason}: ${step.output}; --force reruns it)`)
      reports.push({...report, status: stopped ? 'not-run' : 'skipped'})
      continue
    }
    const reason = step.after ? `${step.after.join(' and ')} ran` : step.reason
    ctx.status(`${step.name}: ${step.action === 'resume' ? 'resuming' : 'running'} (${reason}): ${report.command}`)
    if (step.clear) await rm(step.clear, {recursive: true, force: true})
    if (step.settings !== undefined && step.name !== 'download') await recordStepSettings(ctx.out, step.name, step.settings)
    const started = performance.now()
    const result = await runInProcess(step.command, [...step.argv, ...ctx.commonArgs], ctx.config, ctx.log).catch((err: unknown) => {
      throw err instanceof HybridizeError ? new HybridizeError(`${step.name}: ${err.message}`, {code: err.code, exitCode: err.exitCode, cause: err}) : err
    })
    const seconds = Math.round(performance.now() - started) / 1000
    stopped = step.name === 'distill' && (result as {completed?: boolean}).completed === false
    ctx.status(stopped ? `${step.name}: interrupted after ${seconds.toFixed(1)} s; run the recipe again to resume it` : `${step.name}: done in ${seconds.toFixed(1)} s: ${step.output}`)
    reports.push({...report, seconds, status: stopped ? 'interrupted' : 'ran'})
  }
  return reports
}
