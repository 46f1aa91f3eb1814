import {existsSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {rewrite} from '../../src/rewrite/rewrite.js'
import {ourStderr, runCli} from '../helpers/cli.js'
import {writeHeadsJson} from '../rewrite/helpers.js'
import {TINY, writeTinyPair} from './tiny-models.js'

let dir: string
let teacher: string
let student: string
let text: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-mimo-stage1-'))
  ;({teacher, text} = await writeTinyPair(dir))
  const heads = await writeHeadsJson(dir, teacher, TINY.layers, TINY.heads, [[0, 1]])
  student = join(dir, 'mimo')
  await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: 'mamba3', mimoRank: 2}, out: student, command: 'test'})
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('distill of a Mamba-3 MIMO student', () => {
  const flags = (out: string, stage: string) => ['distill', student, '--teacher', teacher, '--data', text, '--stage', stage, '--tokens', '64', '--batch-size', '2', '--seq-len', '32', '--device', 'cpu', '--out', out]

  it('refuses stage 1 before any work, in one line: a MIMO head has R x R mixing matrices, the teacher\'s one attention', () => {
    const out = join(dir, 'stage1')
    const r = runCli(flags(out, '1'))
    expect(r.status, r.stderr).toBe(2)
    // The device line, then the error: one line, no stack.
    expect(ourStderr(r.stderr)).toEqual([
      'device: cpu: --device cpu',
      `hybridize: error: stage 1 matches one mixing matrix a head with the teacher's attention, and ${student}'s Mamba-3 mixer of MIMO rank 2 has 4 a head; distill it with stages 2 and 3 only`,
    ])
    expect(existsSync(join(out, 'run.json'))).toBe(false)
  })

  it('runs stage 2', () => {
    const r = runCli(flags(join(dir, 'stage2'), '2'))
    expect(r.status, r.stderr).toBe(0)
    expect(existsSync(join(dir, 'stage2', 'student', 'model.safetensors'))).toBe(true)
  })
})
