import {mkdir, mkdtemp, readdir, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {removeUnfinished} from '../../src/distill/checkpoint.js'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-unfinished-'))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('removeUnfinished (before --resume)', () => {
  it('removes what a killed run left under hybridize\'s temporary names, and nothing else', async () => {
    const out = join(dir, 'run')
    const ours = ['student.tmp-4242', 'student.old-4242', 'metrics.jsonl.tmp-4242-3', 'run.json.tmp-17-0', 'loss-stage2.svg.tmp-4242-9']
    const users = ['student.tmp-notes', 'notes.tmp-4242', 'my-student.tmp-4242', 'metrics.jsonl.tmp-mine', 'student', 'run.json', 'metrics.jsonl']
    await mkdir(join(out, 'checkpoints', 'stage1-step2.tmp-4242'), {recursive: true})
    await mkdir(join(out, 'checkpoints', 'stage1-step1'), {recursive: true})
    for (const name of [...ours, ...users]) {
      if (name.startsWith('student')) {
        await mkdir(join(out, name), {recursive: true})
        await writeFile(join(out, name, 'model.safetensors'), 'x')
      } else {
        await writeFile(join(out, name), 'x')
      }
    }
    await removeUnfinished(out)
    expect((await readdir(out)).sort()).toEqual(['checkpoints', ...users].sort())
    expect(await readdir(join(out, 'checkpoints'))).toEqual(['stage1-step1'])
  })
})
