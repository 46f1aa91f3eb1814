import type {Progress} from '../progress.js'

/** Where a step prints: its own command's stdout and stderr, or `hybridize run`'s. */
export interface StepIO {
  /** A result line on stdout. */
  log(line: string): void
  /** A status line on stderr (silent under --quiet and --json). */
  status(line: string): void
  /** The live progress line on stderr. */
  progress: Progress
}
