import {fileURLToPath} from 'node:url'
import {resolve} from 'node:path'

/** The repository root and its reference checkpoints (made by scripts/make-references.py). */
export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const fixtureReference = resolve(repoRoot, 'fixtures/reference')
