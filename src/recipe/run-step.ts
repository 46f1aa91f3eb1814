import type {Interfaces} from '@oclif/core'
import {distill} from '../api/distill.js'
import {download} from '../api/download.js'
import {evaluate} from '../api/evaluate.js'
import {findHeads} from '../api/find-heads.js'
import {rewrite} from '../api/rewrite.js'
import {defaultDevice} from '../cli/device-flag.js'
import {abortOnInterrupt} from '../cli/interrupts.js'
import {DISTILL_FLAGS, distillDryRun, distillRequest, reportDistill} from '../cli/steps/distill.js'
import {EVAL_FLAGS, evaluateRequest, reportEvaluation} from '../cli/steps/eval.js'
import {FIND_HEADS_FLAGS, findHeadsRequest, reportFindHeads} from '../cli/steps/find-heads.js'
import type {StepIO} from '../cli/steps/io.js'
import {REWRITE_FLAGS, reportRewrite, rewriteOptions} from '../cli/steps/rewrite.js'
import {commandLine, type StepCommand} from './steps.js'

/**
 * Runs one step through the library (src/api/), with the options and the printing its command
 * has for the same flags (src/cli/steps/). Returns false when a distillation was stopped by Ctrl-C
 * after saving a checkpoint.
 */
export async function runStep(step: StepCommand, io: StepIO, options: {quiet: boolean}): Promise<boolean> {
  const command = commandLine(step)
  switch (step.name) {
    case 'download': {
      const interrupt = abortOnInterrupt()
      try {
        const {path} = await download({model: step.args[0], signal: interrupt.signal, quiet: options.quiet, notify: io.status})
        io.log(path)
      } finally {
        interrupt.release()
      }
      return true
    }
    case 'find_heads': {
      const started = Date.now()
      reportFindHeads(await findHeads(findHeadsRequest(step.args[0], flagsOf(FIND_HEADS_FLAGS, step), io)), io, started)
      return true
    }
    case 'rewrite': {
      const request = rewriteOptions(step.args[0], flagsOf(REWRITE_FLAGS, step), command, io)
      reportRewrite(request, await rewrite(request), io)
      return true
    }
    case 'distill': {
      const flags = flagsOf(DISTILL_FLAGS, step)
      if (flags['dry-run']) {
        await distillDryRun(step.args[0], flags, io)
        return true
      }
      const outcome = await distill(distillRequest(step.args[0], flags, command, io))
      reportDistill(outcome, io)
      return outcome.completed
    }
    case 'eval':
      reportEvaluation(await evaluate(evaluateRequest(step.args, flagsOf(EVAL_FLAGS, step), io)), io)
      return true
  }
}

/**
 * The step's flag values as its command's parser would give them: each flag left out takes its
 * default (--device: HYBRIDIZE_DEVICE, else auto). The values were checked by the recipe schema.
 */
function flagsOf<F extends Interfaces.FlagInput>(definitions: F, step: StepCommand): Interfaces.InferredFlags<F> {
  const defaults = Object.entries(definitions).flatMap(([flag, definition]) => (definition.default === undefined ? [] : [[flag, definition.default]]))
  const device = 'device' in definitions ? {device: defaultDevice()} : {}
  return {...Object.fromEntries(defaults), ...device, ...step.flags} as Interfaces.InferredFlags<F>
}
