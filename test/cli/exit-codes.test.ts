import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {HybridizeError} from '../../src/errors.js'
import {ourStderr, runCli} from '../helpers/cli.js'

/** One scheme for every command (README, "Exit status"): 2 for a usage error, 1 for an error at run time. */
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-exit-'))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

function expectExit(args: string[], status: number, pattern: RegExp): void {
  const r = runCli(args)
  expect(r.status, r.stderr).toBe(status)
  const lines = ourStderr(r.stderr)
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(pattern)
}

describe('exit status', () => {
  it('is 2 for usage errors, whichever command and whichever layer finds them', () => {
    const out = join(dir, 'run')
    expectExit(['distill', 'fixtures/phi-tiny', '--teacher', 'fixtures/phi-tiny', '--data', 'brown', '--stage', '7', '--out', out], 2, /--stage 7: give 1, 2, 3/)
    expectExit(['distill', 'fixtures/phi-tiny', '--teacher', 'fixtures/phi-tiny', '--data', 'brown', '--mix', 'poetry:0.1', '--out', out], 2, /--mix: unknown task 'poetry'/)
    expectExit(['distill', 'fixtures/phi-tiny', '--data', 'brown', '--out', out], 2, /--teacher is required/)
    expectExit(['find-heads', 'fixtures/phi-tiny', '--budget', '3'], 2, /--budget 3: a bare number is a fraction/)
    expectExit(['find-heads', 'fixtures/phi-tiny', '--samples', '0'], 2, /greater than or equal to 1/)
    expectExit(['find-heads', 'fixtures/phi-tiny', '--nonsense'], 2, /Nonexistent flag: --nonsense/)
    expectExit(['run', join(dir, 'missing.yaml')], 2, /no such recipe file/)
  })

  it("is 2 for a retrieval task's bad option in eval --tasks, before any model loads", () => {
    expectExit(['eval', join(dir, 'no-such-model'), '--tasks', 'kv-retrieval:keys=test'], 2, /kv-retrieval: keys must be one of train, heldout, all, got test/)
    expectExit(['eval', join(dir, 'no-such-model'), '--tasks', 'needle:template=sentences'], 2, /needle has no option 'template' \(options: haystackChars, candidates, keys\)/)
  })

  it('is 1 for errors at run time', () => {
    expectExit(['inspect', join(dir, 'no-such-model', 'x')], 1, /^hybridize: error: /)
  })

  it('follows the error code when none is given', () => {
    expect(new HybridizeError('x', {code: 'E_FLAG'}).exitCode).toBe(2)
    expect(new HybridizeError('x', {code: 'E_FORMAT'}).exitCode).toBe(1)
    expect(new HybridizeError('x', {code: 'E_FLAG', exitCode: 4}).exitCode).toBe(4)
  })
})
