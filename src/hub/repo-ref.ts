import {HybridizeError} from '../errors.js'

/** `org/name` (or a single-name id like `gpt2`) plus an optional branch, tag or commit, as written `org/name@revision`. */
export interface RepoRef {
  repo: string
  revision?: string
}

// The hub's own rule for repo ids: letters, digits, `-`, `_`, `.`; no `--` or `..`; 96 characters at most per part.
const REPO_PART = /^[A-Za-z0-9_.-]{1,96}$/

export const COMMIT_HASH = /^[0-9a-f]{40}$/

/**
 * Parses `[org/]name[@revision]`; undefined when `ref` is not written like a repo id. Single-name ids (`gpt2`,
 * `bert-base-uncased`) are the hub's older models, still served under that name.
 */
export function parseRepoRef(ref: string): RepoRef | undefined {
  const at = ref.indexOf('@')
  const repo = at === -1 ? ref : ref.slice(0, at)
  const revision = at === -1 ? undefined : ref.slice(at + 1)
  const parts = repo.split('/')
  if (parts.length > 2 || !parts.every(isRepoPart)) return undefined
  if (revision !== undefined && !isSafeRevision(revision)) return undefined
  return revision === undefined ? {repo} : {repo, revision}
}

/** Like parseRepoRef, but a malformed id is the user's error. */
export function requireRepoRef(ref: string): RepoRef {
  const parsed = parseRepoRef(ref)
  if (!parsed) throw new HybridizeError(`not a Hugging Face model id: ${ref} (expected org/name, a single name like gpt2, and optionally @revision)`, {code: 'E_REPO_ID'})
  return parsed
}

function isRepoPart(part: string): boolean {
  return REPO_PART.test(part) && !part.includes('--') && !part.includes('..')
    && !/^[-.]|[-.]$/.test(part)
}

// A revision names a file under refs/ (`refs/pr/1` is a valid branch), so it must stay inside that folder.
function isSafeRevision(revision: string): boolean {
  return revision.length > 0 && !/[\s\\]/.test(revision) && !revision.startsWith('/')
    && !revision.split('/').some((part) => part === '' || part === '.' || part === '..')
}
