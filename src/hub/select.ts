import {HybridizeError} from '../errors.js'

/** What `hybridize download` fetches when no --include is given: what a forward pass and a tokenizer need. */
export const DEFAULT_INCLUDE = [
  '*.json', '*.safetensors', '*.model', '*.tiktoken', 'vocab.txt', 'merges.txt',
  'README*', 'LICENSE*', 'USE_POLICY*', 'NOTICE*',
]
/** Meta's `original/` and ONNX exports duplicate the weights in other formats. */
export const DEFAULT_EXCLUDE = ['original/*', 'onnx/*']
/** Weight formats taken, in this order, only when a repo has no safetensors. */
const FALLBACK_WEIGHTS = [['*.bin'], ['*.pth', '*.pt']]

/**
 * The repo files to download. With --include, exactly the files matching one of its globs; without, the
 * defaults above. --exclude removes files either way. Globs follow `hf download` (Python fnmatch): `*` also
 * matches `/`, and a pattern ending in `/` means everything under that folder.
 */
export function selectFiles(paths: readonly string[], opts: {include?: string[]; exclude?: string[]} = {}): string[] {
  const userInclude = opts.include?.length ? opts.include : undefined
  const include = userInclude ?? [...DEFAULT_INCLUDE, ...fallbackWeights(paths)]
  const exclude = [...(opts.exclude ?? []), ...(userInclude ? [] : DEFAULT_EXCLUDE)]
  let chosen = paths.filter((p) => matchesAny(p, include) && !matchesAny(p, exclude))
  if (!userInclude) chosen = dropConsolidatedDuplicates(chosen)
  return chosen
}

/** Python's fnmatch.fnmatch on a repo path: `*` any run of characters, `?` one, `[seq]` / `[!seq]` a set. */
export function fnmatch(path: string, pattern: string): boolean {
  return globToRegExp(pattern.endsWith('/') ? `${pattern}*` : pattern).test(path)
}

/**
 * Repo paths come from the server and are joined onto the cache folder: refuse any that could land outside it
 * or mean something else on Windows (absolute, drive letters, backslashes, `.`/`..`/empty segments).
 */
export function assertSafeRepoPath(path: string): void {
  if (!isSafeRepoPath(path)) throw new HybridizeError(`refusing unsafe file name from the hub: ${JSON.stringify(path)}`, {code: 'E_UNSAFE_PATH'})
}

export function isSafeRepoPath(path: string): boolean {
  return !(path === '' || path.startsWith('/') || /[\\\0]/.test(path) || /^[A-Za-z]:/.test(path)
    || path.split('/').some((part) => part === '' || part === '.' || part === '..'))
}

/** A positional file argument that names one file rather than a glob or a folder (`dir/`). */
export function isExactName(path: string): boolean {
  return !/[*?[]/.test(path) && !path.endsWith('/')
}

function fallbackWeights(paths: readonly string[]): string[] {
  if (paths.some((p) => fnmatch(p, '*.safetensors'))) return []
  return FALLBACK_WEIGHTS.find((globs) => paths.some((p) => matchesAny(p, globs))) ?? []
}

// Mistral repos ship `consolidated.safetensors` beside the sharded `model-*.safetensors`: the same weights twice.
function dropConsolidatedDuplicates(paths: string[]): string[] {
  const isConsolidated = (p: string) => fnmatch(p, 'consolidated*.safetensors')
  const hasOtherWeights = paths.some((p) => fnmatch(p, '*.safetensors') && !isConsolidated(p))
  return hasOtherWeights ? paths.filter((p) => !isConsolidated(p)) : paths
}

function matchesAny(path: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => fnmatch(path, pattern))
}

function globToRegExp(pattern: string): RegExp {
  let source = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '*') source += '.*'
    else if (c === '?') source += '.'
    else if (c === '[') {
      const close = pattern.indexOf(']', pattern[i + 1] === '!' ? i + 3 : i + 2)
      if (close === -1) {
        source += '\\['
        continue
      }
      let set = pattern.slice(i + 1, close).replace(/\\/g, '\\\\')
      if (set.startsWith('!')) set = `^${set.slice(1)}`
      else if (set.startsWith('^')) set = `\\${set}`
      source += `[${set}]`
      i = close
    } else source += c.replace(/[.+^${}()|\\\]]/g, '\\$&')
  }
  return new RegExp(`^${source}$`, 's')
}
