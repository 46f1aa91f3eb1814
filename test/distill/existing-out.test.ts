import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ourStderr, runCli} from '../helpers/cli.js'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-existing-out-'))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('distill into a folder that holds a student/ it did not write', () => {
  it('refuses before any work, in one line, and leaves the folder alone', async () => {
    const out = join(dir, 'mine')
    await mkdir(join(out, 'student'), {recursive: true})
    await writeFile(join(out, 'student', 'notes.txt'), 'mine')
    const r = runCli(['distill', 'fixtures/phi-tiny', '--teacher', 'fixtures/phi-tiny', '--data', 'brown', '--tokens', '1k', '--device', 'cpu', '--out', out])
    expect(r.status, r.stderr).toBe(1)
    expect(ourStderr(r.stderr)).toEqual([`hybridize: error: ${join(out, 'student')} already exists and a run would replace it; choose another --out, or move it away`])
    expect(await readFile(join(out, 'student', 'notes.txt'), 'utf8')).toBe('mine')
  })
})
