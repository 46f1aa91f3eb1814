import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {repoRoot} from './paths.js'

export interface CliResult {
  status: number | null
  stdout: string
  stderr: string
}

/** Run the built CLI as a user would, with colour off and no TTY. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/run.js'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: {...process.env, NO_COLOR: '1', ...env},
    timeout: 120_000,
  })
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

/** stderr without Dawn's own start-up warnings, which are not ours to silence. */
export function ourStderr(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l && !l.startsWith('Warning: max'))
}
