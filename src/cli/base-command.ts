import {Command, Flags, type Interfaces} from '@oclif/core'
import {configureColor} from './color.js'
import {checkDeviceVariable} from './device-flag.js'
import {createProgress, type Progress} from './progress.js'
import type {StepIO} from './steps/io.js'
import {describeSystemError, HybridizeError} from '../errors.js'
import {redactUrl} from '../util/redact-url.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>

/**
 * Every hybridize command: `--json` output, `--quiet`, `--debug`, colour rules, and errors printed
 * as one line on stderr with a non-zero exit (the stack only under --debug).
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    quiet: Flags.boolean({char: 'q', description: 'Print no progress or status lines on stderr.', helpGroup: 'GLOBAL'}),
    debug: Flags.boolean({description: 'Print stack traces and internal details on errors.', helpGroup: 'GLOBAL'}),
    'no-color': Flags.boolean({description: 'Do not colour output (NO_COLOR is honoured too).', helpGroup: 'GLOBAL'}),
  }

  protected progress!: Progress

  override async init(): Promise<void> {
    await super.init()
    configureColor(!this.argv.includes('--no-color'))
    const silent = this.argv.includes('--quiet') || this.argv.includes('-q') || this.jsonEnabled()
    this.progress = createProgress({quiet: silent})
    if ('device' in (this.ctor.flags ?? {})) checkDeviceVariable(this.argv)
  }

  /** A status line on stderr (silent under --quiet and --json). */
  protected status(text: string): void {
    this.progress.info(text)
  }

  /** This command's stdout, status lines and progress line, for the step functions of cli/steps/. */
  protected get io(): StepIO {
    return {log: (line) => this.log(line), status: (line) => this.status(line), progress: this.progress}
  }

  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (err.oclif?.exit === 0) return
    // URL credentials (HF_ENDPOINT=http://user:password@mirror) never reach the terminal, --json or --debug.
    const message = redactUrl(oneLine(describeSystemError(err) ?? withoutParserFrame(err)))
    const exitCode = err instanceof HybridizeError ? err.exitCode : (err.oclif?.exit ?? err.exitCode ?? 1)
    if (this.argv.includes('--debug')) {
      process.stderr.write(`${redactUrl(err.stack ?? message)}\n`)
      process.exitCode = exitCode
      return this.exit(exitCode)
    }
    if (this.jsonEnabled()) {
      this.logJson({error: {message, code: (err as HybridizeError).code ?? 'E_UNKNOWN'}})
    }
    process.stderr.write(`hybridize: error: ${message}\n`)
    process.exitCode = exitCode
    return this.exit(exitCode)
  }
}

/**
 * oclif wraps an error thrown by a flag's own parser as "Parsing --flag\n\t<message>\nSee more help
 * with --help"; a HybridizeError already names its flag, so only its message is kept.
 */
function withoutParserFrame(err: Error): string {
  if (!(err instanceof HybridizeError)) return err.message
  return err.message.replace(/^Parsing --\S+\s*\n\t/, '').replace(/\nSee more help with --help$/, '')
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}
