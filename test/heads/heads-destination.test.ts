import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {checkHeadsDestination} from '../../src/heads/heads-file.js'
import {ourStderr, runCli} from '../helpers/cli.js'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-heads-dest-'))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('find-heads --out', () => {
  it('replaces a heads.json find-heads wrote (and its .svg), nothing else unless --force', async () => {
    const ours = join(dir, 'ours.json')
    await writeFile(ours, JSON.stringify({format: 'hybridize-heads/1'}))
    await writeFile(join(dir, 'ours.svg'), '<svg/>')
    await expect(checkHeadsDestination(ours, false)).resolves.toBeUndefined()
    await expect(checkHeadsDestination(join(dir, 'new.json'), false)).resolves.toBeUndefined()

    const users = join(dir, 'users.json')
    await writeFile(users, '{"my": "data"}')
    await expect(checkHeadsDestination(users, false)).rejects.toThrow(/users\.json exists and is not a heads\.json hybridize wrote; choose another --out, or pass --force to replace it$/)
    await expect(checkHeadsDestination(users, true)).resolves.toBeUndefined()
    await writeFile(join(dir, 'plot.svg'), '<svg/>')
    await expect(checkHeadsDestination(join(dir, 'plot.json'), false)).rejects.toThrow(/plot\.svg exists without the heads\.json/)
  })

  it('refuses a user\'s file at --out before any work, in one line, and leaves it alone', async () => {
    const users = join(dir, 'notes.json')
    await writeFile(users, '{"my": "data"}')
    const r = runCli(['find-heads', 'fixtures/phi-tiny', '--device', 'cpu', '--out', users])
    expect(r.status, r.stderr).toBe(1)
    expect(ourStderr(r.stderr)).toEqual([`hybridize: error: ${users} exists and is not a heads.json hybridize wrote; choose another --out, or pass --force to replace it`])
    expect(await readFile(users, 'utf8')).toBe('{"my": "data"}')
  })
})
