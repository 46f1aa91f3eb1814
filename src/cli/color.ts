import chalk, {Chalk, chalkStderr, type ChalkInstance} from 'chalk'

/**
 * Colour is decided per stream: tables on stdout are coloured only when stdout is a terminal, and
 * progress on stderr only when stderr is, so `find-heads > file` writes no escape codes into the
 * file while the terminal still gets a coloured spinner. chalk and supports-color do not honour
 * NO_COLOR (their maintainers declined it), so the rule lives here: NO_COLOR (any non-empty
 * value), TERM=dumb, or a stream that is not a TTY turn colour off; FORCE_COLOR turns it on.
 */
export function colorEnabled(stream: NodeJS.WriteStream = process.stderr, env = process.env): boolean {
  if (env.NO_COLOR) return false
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false'
  if (env.TERM === 'dumb') return false
  return Boolean(stream.isTTY)
}

/** Styles for text written to stdout, and for text written to stderr; off until configureColor. */
export const stdoutColor: ChalkInstance = new Chalk({level: 0})
export const stderrColor: ChalkInstance = new Chalk({level: 0})

/** Decides each stream's colour (`allowed` false: --no-color). The level is what the terminal supports, at least 16 colours. */
export function configureColor(allowed: boolean, streams: {stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream} = process, env = process.env): void {
  stdoutColor.level = allowed && colorEnabled(streams.stdout, env) ? Math.max(chalk.level, 1) as 1 | 2 | 3 : 0
  stderrColor.level = allowed && colorEnabled(streams.stderr, env) ? Math.max(chalkStderr.level, 1) as 1 | 2 | 3 : 0
}
