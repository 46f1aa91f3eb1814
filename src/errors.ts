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
    this.exitCode = options.exitCode ?? 1
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
