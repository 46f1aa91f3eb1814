import ora, {type Ora} from 'ora'
import {stderrColor} from './color.js'

/**
 * Progress and status go to stderr, never stdout, so `--json` and pipes stay clean.
 * Spinners animate only on an interactive terminal outside CI; elsewhere each status is one plain line;
 * `quiet` silences everything.
 */
export interface Progress {
  start(text: string): void
  update(text: string): void
  succeed(text?: string): void
  fail(text?: string): void
  info(text: string): void
}

export function createProgress(options: {quiet?: boolean} = {}): Progress {
  const interactive = Boolean(process.stderr.isTTY) && !process.env.CI && process.env.TERM !== 'dumb'
  const spinner: Ora = ora({
    stream: process.stderr,
    isEnabled: interactive,
    isSilent: Boolean(options.quiet),
    color: stderrColor.level > 0 ? 'cyan' : false as never,
  })
  return {
    start: (text) => { spinner.start(text) },
    update: (text) => {
      if (interactive) spinner.text = text
    },
    succeed: (text) => { spinner.succeed(text) },
    fail: (text) => { spinner.fail(text) },
    info: (text) => {
      if (!options.quiet) {
        if (spinner.isSpinning) spinner.clear()
        process.stderr.write(`${text}\n`)
        if (spinner.isSpinning) spinner.render()
      }
    },
  }
}
