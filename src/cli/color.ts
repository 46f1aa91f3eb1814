import chalk from 'chalk'

/**
 * Decide once whether stderr gets colour. chalk and supports-color do not honour NO_COLOR
 * (their maintainers declined it), so the rule lives here: NO_COLOR (any non-empty value),
 * TERM=dumb, or a stream that is not a TTY turn colour off; FORCE_COLOR turns it on.
 */
export function colorEnabled(stream: NodeJS.WriteStream = process.stderr, env = process.env): boolean {
  if (env.NO_COLOR) return false
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false'
  if (env.TERM === 'dumb') return false
  return Boolean(stream.isTTY)
}

export function configureColor(enabled: boolean): void {
  chalk.level = enabled ? Math.max(chalk.level, 1) as 1 | 2 | 3 : 0
}
