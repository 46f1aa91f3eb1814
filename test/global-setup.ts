import {spawnSync} from 'node:child_process'
import {rmSync} from 'node:fs'
import {join} from 'node:path'
import {repoRoot} from './helpers/paths.js'

/**
 * CLI tests spawn `bin/run.js`, which runs dist/: compile it once, fresh, before any test file,
 * and write oclif.manifest.json as `npm run build` does (oclif takes its list of commands and
 * flags from it, so a stale one would hide a new command).
 * tsc writes its output even when it finds type errors; those are reported here and fail
 * `npm run build` (and so `npm ci`), so the tests themselves still run on what was emitted.
 */
export default function setup(): void {
  const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {cwd: repoRoot, encoding: 'utf8'})
  if (r.status !== 0) console.warn(`tsc reported errors (npm run build will fail):\n${r.stdout}${r.stderr}`)
  const manifest = spawnSync(process.execPath, ['scripts/write-manifest.mjs'], {cwd: repoRoot, encoding: 'utf8'})
  if (manifest.status !== 0) {
    // Without a manifest oclif loads the commands themselves: the tests still run, slower.
    rmSync(join(repoRoot, 'oclif.manifest.json'), {force: true})
    console.warn(`scripts/write-manifest.mjs failed (npm run build will fail):\n${manifest.stderr}`)
  }
}
