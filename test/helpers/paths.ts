import {fileURLToPath} from 'node:url'
import {resolve} from 'node:path'

/** The repository root, and shared/ beside it (CI lays a copy of shared/ next to the clone). */
export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const sharedReference = resolve(repoRoot, '../shared/reference')
export const fixtureReference = resolve(repoRoot, 'fixtures/reference')
