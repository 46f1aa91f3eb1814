import {spawn, type ChildProcess} from 'node:child_process'
import {join} from 'node:path'
import {repoRoot} from './paths.js'

export interface ServeProcess {
  child: ChildProcess
  /** The base URL it printed (`listening on http://.../v1`). */
  url: string
  /** Its exit code, once it exits. */
  exited: Promise<number | null>
  /** What it wrote to stderr so far. */
  stderr: () => string
}

/** `hybridize serve ARGS...` as a child process (NO_COLOR), once it says where it listens; rejects if it exits first. */
export async function startServe(args: string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/run.js'), 'serve', ...args], {env: {...process.env, NO_COLOR: '1'}})
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d
      const m = /listening on (http:\/\/\S+)/.exec(stdout)
      if (m) resolve(m[1])
    })
    void exited.then(() => reject(new Error(`serve exited early: ${stderr}`)))
  })
  return {child, url, exited, stderr: () => stderr}
}
