import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdtemp, readdir, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {loadLastCheckpoint} from '../../src/distill/checkpoint.js'
import {readMetrics} from '../../src/distill/metrics.js'
import {ourStderr, runCli} from '../helpers/cli.js'
import {repoRoot} from '../helpers/paths.js'
import {writeTinyPair} from './tiny-models.js'

/**
 * The CLI as a user drives it: Ctrl-C (SIGINT) during training, during a checkpoint save, and bad
 * data. The student is wide enough (1.7M weights, 20 MB a checkpoint with its AdamW moments) that a
 * save takes long enough to be caught in the middle.
 */
let dir: string
let dirs: Awaited<ReturnType<typeof writeTinyPair>>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-sigint-'))
  dirs = await writeTinyPair(dir, 7, {hidden: 256, intermediate: 1024})
})

const distillArgs = (out: string, extra: string[] = []) => [
  'distill', dirs.student, '--teacher', dirs.teacher, '--data', dirs.text, '--stage', '3', '--tokens', '2k', '--lr', '1e-3',
  '--batch-size', '2', '--seq-len', '32', '--device', 'cpu', '--out', out, ...extra,
]

interface Child {
  signal(): void
  stderr(): string
  exited: Promise<{code: number | null; stderr: string}>
}

function start(args: string[]): Child {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/run.js'), ...args], {cwd: repoRoot, env: {...process.env, NO_COLOR: '1'}})
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<{code: number | null; stderr: string}>((resolve) => child.on('exit', (code) => resolve({code, stderr})))
  return {signal: () => child.kill('SIGINT'), stderr: () => stderr, exited}
}

/** Poll (every 2 ms) until `ready` holds, or the child exits. */
async function until(child: Child, ready: () => Promise<boolean>): Promise<boolean> {
  let done = false
  void child.exited.then(() => (done = true))
  while (!done) {
    if (await ready()) return true
    await new Promise((r) => setTimeout(r, 2))
  }
  return false
}

const unfinished = async (out: string): Promise<string[]> => (await readdir(join(out, 'checkpoints')).catch(() => [] as string[])).filter((n) => n.includes('.tmp-'))

describe('Ctrl-C', () => {
  it('saves a checkpoint after the current step, exits with 130, and --resume finishes the run', async () => {
    const out = join(dir, 'once')
    const child = start(distillArgs(out, ['--save-every', '1000']))
    expect(await until(child, async () => (await readMetrics(out)).length >= 3)).toBe(true)
    child.signal()
    const {code, stderr} = await child.exited
    expect(code).toBe(130)
    expect(stderr).toMatch(/Ctrl-C: saving a checkpoint after this step/)
    expect(stderr).toContain(`continue with: hybridize distill --resume --out ${out}`)
    const saved = await loadLastCheckpoint(out)
    expect(saved.state.step).toBe((await readMetrics(out)).length)
    const resumed = runCli(['distill', '--resume', '--out', out, '--device', 'cpu'])
    expect(resumed.status).toBe(0)
    const steps = (await readMetrics(out)).map((m) => m.step)
    expect(steps).toEqual(steps.map((_, i) => i + 1))
    expect(existsSync(join(out, 'student/model.safetensors'))).toBe(true)
  })

  it('twice during a save quits at once and leaves the last complete checkpoint intact', async () => {
    let caught = false
    for (let attempt = 0; attempt < 5 && !caught; attempt++) {
      const out = join(dir, `twice-${attempt}`)
      const child = start(distillArgs(out, ['--save-every', '1']))
      // A previous checkpoint exists and the next one is being written.
      const midSave = await until(child, async () => existsSync(join(out, 'checkpoints/last')) && (await unfinished(out)).length > 0)
      if (!midSave) continue
      // Signals that arrive together merge into one: the second waits until the first was handled.
      child.signal()
      await until(child, async () => child.stderr().includes('Ctrl-C: saving'))
      child.signal()
      const {code, stderr} = await child.exited
      expect(code).toBe(130)
      caught = (await unfinished(out)).length > 0
      if (!caught) continue
      expect(ourStderr(stderr).at(-1)).toMatch(/second Ctrl-C: quitting without saving; the last complete checkpoint is kept/)
      const last = (await readFile(join(out, 'checkpoints/last'), 'utf8')).trim()
      const saved = await loadLastCheckpoint(out)
      expect(saved.folder).toBe(join(out, 'checkpoints', last))
      expect(saved.weights.size).toBeGreaterThan(0)
      expect(saved.moments.size).toBe(saved.weights.size)
      const resumed = runCli(['distill', '--resume', '--out', out, '--device', 'cpu', '--json'])
      expect(resumed.status).toBe(0)
      expect(JSON.parse(resumed.stdout)).toMatchObject({completed: true, stage: 3})
      expect(await unfinished(out)).toEqual([])
    }
    expect(caught).toBe(true)
  })
})

describe('bad data on the command line', () => {
  it('a missing --data path is one clear line', () => {
    const r = runCli(distillArgs(join(dir, 'bad1')).map((a) => (a === dirs.text ? join(dir, 'no-such.txt') : a)))
    expect(r.status).toBe(1)
    expect(ourStderr(r.stderr)).toEqual([`hybridize: error: --data ${join(dir, 'no-such.txt')}: no such file or folder (give text, JSONL or parquet files, a folder of them, or 'brown')`])
  })

  it('a corrupt JSONL line names its file and line', async () => {
    const bad = join(dir, 'corrupt.jsonl')
    await writeFile(bad, '{"text": "fine"}\n{"text": "broken\n')
    const r = runCli(distillArgs(join(dir, 'bad2')).map((a) => (a === dirs.text ? bad : a)))
    expect(r.status).toBe(1)
    expect(ourStderr(r.stderr).at(-1)).toMatch(new RegExp(`^hybridize: error: ${bad}:2: not valid JSON \\(`))
  })
})
