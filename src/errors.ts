/**
 * Exit statuses, as oclif and argparse (huggingface-cli) use them: 1 for an error at run time (a
 * file, a model, the network, the disk), 2 for a usage error (the command line or recipe itself is
 * wrong: an unknown flag, a bad value, flags that conflict). Hub errors add 3 (authentication
 * required) and 4 (access denied); an interrupt exits 130. README.md lists them.
 */
export const EXIT_RUNTIME = 1
export const EXIT_USAGE = 2

/** Error codes of mistakes in the command line or recipe: they exit 2 unless told otherwise. */
const USAGE_CODES = new Set(['E_USAGE', 'E_FLAG', 'E_MIX', 'E_TASK', 'E_TASK_OPTION', 'E_RECIPE', 'E_REPO_ID'])

/**
 * Errors a user can act on. The CLI prints `message` as one line on stderr and exits
 * with `exitCode`; anything that is not a HybridizeError is a bug and keeps its stack
 * under --debug.
 */
export class HybridizeError extends Error {
  readonly code: string
  readonly exitCode: number

  constructor(message: string, options: {code?: string; exitCode?: number; cause?: unknown} = {}) {
    super(message, {cause: options.cause})
    this.name = 'HybridizeError'
    this.code = options.code ?? 'E_HYBRIDIZE'
    this.exitCode = options.exitCode ?? (USAGE_CODES.has(this.code) ? EXIT_USAGE : EXIT_RUNTIME)
  }
}

/** A file that is missing, truncated, or not what its format promises. */
export class FormatError extends HybridizeError {
  constructor(message: string, options: {cause?: unknown} = {}) {
    super(message, {code: 'E_FORMAT', cause: options.cause})
    this.name = 'FormatError'
  }
}

/** Shapes, dtypes or configuration values that do not fit together. */
export class ShapeError extends HybridizeError {
  constructor(message: string) {
    super(message, {code: 'E_SHAPE'})
    this.name = 'ShapeError'
  }
}

/** Node's system errors (ENOENT, ENOSPC, ...) rewritten as one sentence that names the path. */
export function describeSystemError(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException
  if (!e || typeof e.code !== 'string') return undefined
  const where = e.path ? `: ${e.path}` : ''
  switch (e.code) {
    case 'ENOENT': return `no such file or folder${where}`
    case 'EACCES': case 'EPERM': return `permission denied${where}`
    case 'ENOSPC': return `the disk is full${where}`
    case 'EISDIR': return `expected a file but found a folder${where}`
    case 'ENOTDIR': return `expected a folder but found a file${where}`
    case 'EEXIST': return e.syscall === 'mkdir' ? `a file is in the way of a folder${where}` : `already exists${where}`
    case 'ECONNREFUSED': case 'ENOTFOUND': case 'EAI_AGAIN': case 'ENETUNREACH':
      return `the network is unreachable (${e.code})${where}`
    default: return undefined
  }
}
