import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {sanitizeModelName} from '../../src/eval/report.js'
import {ourStderr, runCli, type CliResult} from '../helpers/cli.js'
import {repoRoot} from '../helpers/paths.js'
import {writeTinyPair} from '../distill/tiny-models.js'

/** `hybridize run` as a user drives it, over a tiny random Llama teacher written here, with tiny budgets. */
let dir: string
let teacher: string
let corpus: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-run-'))
  ;({teacher, text: corpus} = await writeTinyPair(dir))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

/** A recipe over the tiny teacher, writing under `<dir>/<name>`; returns its path. */
async function recipe(name: string, distillTokens = '64'): Promise<string> {
  const file = join(dir, `${name}.yaml`)
  await writeFile(file, `teacher: ${teacher}
out: ${join(dir, name)}
device: cpu
find_heads:
  samples: 2
  pairs: 2
  top_k: 1
  random_draws: 0
rewrite:
  keep: 1
  d_state: 8
distill:
  data: ${corpus}
  tokens: ${distillTokens}
  batch_size: 1
  seq_len: 32
eval:
  tasks: ppl:${corpus}
  limit: 1
  seq_len: 32
`)
  return file
}

const resultsFiles = async (out: string, model: string): Promise<string[]> =>
  (await readdir(join(out, 'eval', sanitizeModelName(model))).catch(() => [] as string[])).filter((f) => f.startsWith('results_'))

function expectOneLineError(args: string[], pattern: RegExp): CliResult {
  const r = runCli(args)
  expect(r.status, r.stderr).toBe(2)
  const lines = ourStderr(r.stderr)
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^hybridize: error: /)
  expect(lines[0]).toMatch(pattern)
  return r
}

describe('hybridize run', () => {
  it('rejects a missing recipe, an unknown key and a wrong type in one line, before running anything', async () => {
    expect(expectOneLineError(['run', join(dir, 'none.yaml')], /no such recipe file: .*none\.yaml$/).stdout).toBe('')
    const bad = join(dir, 'bad.yaml')
    await writeFile(bad, `teacher: ${teacher}\nout: ${join(dir, 'bad')}\nrewrite:\n  budgett: 5%\n`)
    expectOneLineError(['run', bad], /bad\.yaml:4: rewrite\.budgett: unknown key \(expected one of keep, budget, mixer, d_state/)
    await writeFile(bad, `teacher: ${teacher}\nout: ${join(dir, 'bad')}\nfind_heads:\n  pairs: many\n`)
    const json = expectOneLineError(['run', bad, '--json'], /bad\.yaml:4: find_heads\.pairs: expected an integer but received: many$/)
    expect(JSON.parse(json.stdout).error).toMatchObject({code: 'E_RECIPE'})
    expect(existsSync(join(dir, 'bad'))).toBe(false)
  })

  it('refuses to replace a folder it did not write, in one line, and keeps the user\'s files; --force replaces it', async () => {
    const file = await recipe('users')
    const out = join(dir, 'users')
    await mkdir(join(out, 'hybrid'), {recursive: true})
    await writeFile(join(out, 'hybrid', 'important.txt'), 'mine')
    const r = runCli(['run', file])
    expect(r.status, r.stderr).toBe(1)
    const lines = ourStderr(r.stderr)
    expect(lines, r.stderr).toHaveLength(1)
    expect(lines[0]).toBe(`hybridize: error: ${out}/hybrid already exists and this recipe did not write it (${out}/steps.json names no rewrite step); move it away, choose another out:, or pass --force to replace it`)
    expect(await readFile(join(out, 'hybrid', 'important.txt'), 'utf8')).toBe('mine')
    expect(existsSync(join(out, 'heads.json'))).toBe(false)
    const dry = runCli(['run', file, '--dry-run', '--force'])
    expect(dry.status, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/hybridize rewrite .* --out \S+\/hybrid --force$/m)
  })

  it('prints the plan under --dry-run and writes nothing', async () => {
    const file = await recipe('dry')
    const r = runCli(['run', file, '--dry-run'])
    expect(r.status, r.stderr).toBe(0)
    const out = join(dir, 'dry')
    expect(r.stdout.split('\n')).toEqual([
      expect.stringMatching(/^step +action +reason +output$/),
      expect.stringMatching(new RegExp(`^find_heads +run +no output yet +${out}/heads\\.json$`)),
      `  hybridize find-heads ${teacher} --samples 2 --pairs 2 --top-k 1 --random-draws 0 --out ${out}/heads.json --device cpu`,
      expect.stringMatching(/^rewrite +run +find_heads will run first +.*\/hybrid$/),
      `  hybridize rewrite ${teacher} --heads ${out}/heads.json --keep 1 --d-state 8 --out ${out}/hybrid`,
      expect.stringMatching(/^distill +run +rewrite will run first +.*\/distill$/),
      expect.stringMatching(/^ {2}hybridize distill .*\/hybrid --teacher .* --tokens 64 --batch-size 1 --seq-len 32 --out .*\/distill --device cpu$/),
      expect.stringMatching(/^eval +run +rewrite and distill will run first +.*\/eval$/),
      `  hybridize eval ${teacher} ${out}/hybrid ${out}/distill/student --tasks ppl:${corpus} --limit 1 --seq-len 32 --output-path ${out}/eval --device cpu`,
      '',
    ])
    expect(existsSync(out)).toBe(false)
  })

  it('runs every step, skips them all the second time, and reruns them all with --force', async () => {
    const file = await recipe('full')
    const out = join(dir, 'full')
    const first = runCli(['run', file, '--json'])
    expect(first.status, first.stderr).toBe(0)
    const summary = JSON.parse(first.stdout)
    expect(summary).toMatchObject({recipe: file, out, dryRun: false})
    expect(summary.steps.map((s: {step: string; status: string; output: string}) => [s.step, s.status, s.output])).toEqual([
      ['find_heads', 'ran', join(out, 'heads.json')],
      ['rewrite', 'ran', join(out, 'hybrid')],
      ['distill', 'ran', join(out, 'distill')],
      ['eval', 'ran', join(out, 'eval')],
    ])
    for (const s of summary.steps) expect(s.seconds).toBeGreaterThan(0)
    for (const f of ['heads.json', 'heads.svg', 'hybrid/config.json', 'hybrid/provenance.json', 'distill/student/config.json', 'distill/metrics.jsonl']) {
      expect(existsSync(join(out, f)), f).toBe(true)
    }
    const recorded = JSON.parse(await readFile(join(out, 'steps.json'), 'utf8'))
    expect(Object.keys(recorded)).toEqual(['find_heads', 'rewrite', 'distill', 'eval'])
    expect(recorded.find_heads).toBe(`hybridize find-heads ${teacher} --samples 2 --pairs 2 --top-k 1 --random-draws 0 --out ${out}/heads.json`)
    const models = [teacher, join(out, 'hybrid'), join(out, 'distill', 'student')]
    for (const m of models) expect(await resultsFiles(out, m), m).toHaveLength(1)

    const again = runCli(['run', file])
    expect(again.status, again.stderr).toBe(0)
    for (const step of ['find_heads', 'rewrite', 'distill', 'eval']) expect(again.stderr).toMatch(new RegExp(`^${step}: skipped \\(output complete: `, 'm'))
    expect(again.stdout).toMatch(/^eval +skipped +0\.0 +.*\/eval$/m)
    for (const m of models) expect(await resultsFiles(out, m)).toHaveLength(1)

    const before = await resultsFiles(out, teacher)
    const forced = runCli(['run', file, '--force', '--json'])
    expect(forced.status, forced.stderr).toBe(0)
    expect(JSON.parse(forced.stdout).steps.map((s: {status: string}) => s.status)).toEqual(['ran', 'ran', 'ran', 'ran'])
    // The old results are cleared, not kept beside the new ones.
    for (const m of models) expect(await resultsFiles(out, m)).toHaveLength(1)
    expect(await resultsFiles(out, teacher)).not.toEqual(before)
  })

  it('keeps the finished steps\' outputs on Ctrl-C during distill, and the next run resumes it', async () => {
    const file = await recipe('stopped', '3k')
    const out = join(dir, 'stopped')
    const child = spawn(process.execPath, [join(repoRoot, 'bin/run.js'), 'run', file], {cwd: repoRoot, env: {...process.env, NO_COLOR: '1'}})
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    while (!existsSync(join(out, 'distill', 'metrics.jsonl')) && child.exitCode === null) await new Promise((r) => setTimeout(r, 5))
    child.kill('SIGINT')
    expect(await exited, stderr).toBe(130)
    expect(stderr).toMatch(/^distill: interrupted after .* s; run the recipe again to resume it$/m)
    for (const f of ['heads.json', 'hybrid/config.json', 'distill/checkpoints/last']) expect(existsSync(join(out, f)), f).toBe(true)
    expect(existsSync(join(out, 'distill', 'student'))).toBe(false)
    expect(existsSync(join(out, 'eval'))).toBe(false)

    const resumed = runCli(['run', file])
    expect(resumed.status, resumed.stderr).toBe(0)
    expect(resumed.stderr).toMatch(/^distill: resuming \(interrupted run\): hybridize distill --resume --out /m)
    // Said as eval starts, after the distillation it reads has run (not "will run first").
    expect(resumed.stderr).toMatch(/^eval: running \(distill ran\): hybridize eval /m)
    const statuses = resumed.stdout.split('\n').map((l) => /^(find_heads|rewrite|distill|eval) +(\S+)/.exec(l)?.slice(1)).filter(Boolean)
    expect(statuses).toEqual([['find_heads', 'skipped'], ['rewrite', 'skipped'], ['distill', 'ran'], ['eval', 'ran']])
    expect(existsSync(join(out, 'distill', 'student', 'config.json'))).toBe(true)
  })
})
