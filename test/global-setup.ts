import {execFileSync} from 'node:child_process'
import {repoRoot} from './helpers/paths.js'

/** CLI tests spawn `bin/run.js`, which runs dist/: compile it once, fresh, before any test file. */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {cwd: repoRoot, stdio: 'inherit'})
}
