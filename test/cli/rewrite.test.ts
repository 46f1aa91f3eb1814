import {mkdtemp, readdir, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {openCheckpoint} from '../../src/io/safetensors/checkpoint.js'
import {ourStderr, runCli} from '../helpers/cli.js'
import {relativeError} from '../helpers/compare.js'
import {fixtureReference} from '../helpers/paths.js'
import {writeHeadsJson} from '../rewrite/helpers.js'

/** `hybridize rewrite` as a user runs it, and `forward` on the models it writes and on Mamba-2 checkpoints. */
const teacher = resolve(fixtureReference, 'llama-tiny')
let root: string
let heads: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-rewrite-cli-'))
  heads = await writeHeadsJson(root, teacher, 2, 4, [[1, 0], [0, 3]])
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

/** Nothing but these entries in the work folder: no output folder, no leftover temporary one. */
async function expectOnly(entries: string[]): Promise<void> {
  expect((await readdir(root)).sort()).toEqual([...entries].sort())
}

function expectOneLineError(args: string[], pattern: RegExp): void {
  const r = runCli(args)
  expect(r.status, r.stderr).not.toBe(0)
  const lines = ourStderr(r.stderr).filter((l) => !l.startsWith('teacher:'))
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^hybridize: error: /)
  expect(lines[0]).toMatch(pattern)
}

describe('hybridize rewrite', () => {
  it('--init random starts the SSM mixers from seeded random projections, and says so in provenance.json', async () => {
    const out = join(root, 'random-init')
    const r = runCli(['rewrite', teacher, '--heads', heads, '--keep', '1', '--init', 'random', '--seed', '3', '--out', out])
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(await readFile(join(out, 'provenance.json'), 'utf8')).ssm_init).toEqual({kind: 'random', seed: 3})
    await rm(out, {recursive: true})
    expectOneLineError(['rewrite', teacher, '--heads', heads, '--init', 'zeros', '--out', out], /--init|zeros/)
    await expectOnly(['heads.json'])
  })

  it('writes a hybrid that forward runs, keeping the top --keep heads', async () => {
    const out = join(root, 'hybrid')
    const r = runCli(['rewrite', teacher, '--heads', heads, '--keep', '1', '--mixer', 'mamba2', '--d-state', '8', '--out', out, '--json'])
    expect(r.status, r.stderr).toBe(0)
    const result = JSON.parse(r.stdout)
    expect(result).toMatchObject({keptHeads: [[1, 0]], totalHeads: 8, mixer: 'mamba2', dState: 8, dtype: 'F32'})
    const provenance = JSON.parse(await readFile(join(out, 'provenance.json'), 'utf8'))
    expect(provenance.command).toMatch(/^hybridize rewrite .* --keep 1 --mixer mamba2/)
    const ids = join(fixtureReference, 'mamba2-tiny', 'reference.safetensors')
    const f = runCli(['forward', out, '--input', ids, '--output', join(root, 'out.safetensors'), '--device', 'cpu'])
    expect(f.status, f.stderr).toBe(0)
    await rm(join(root, 'out.safetensors'))
    // Again over the existing folder: refused without --force, replaced with it.
    expectOneLineError(['rewrite', teacher, '--heads', heads, '--out', out], /already exists/)
    const again = runCli(['rewrite', teacher, '--heads', heads, '--budget', '25%', '--out', out, '--force', '--json'])
    expect(again.status, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout).keptHeads).toEqual([[1, 0], [0, 3]])
    await expectOnly(['heads.json', 'hybrid'])
    await rm(out, {recursive: true})
  })

  it('--budget reads 0.25 as 25% (as find-heads does), and refuses a budget that rounds to no head', async () => {
    const out = join(root, 'fraction')
    const r = runCli(['rewrite', teacher, '--heads', heads, '--budget', '0.25', '--out', out, '--json'])
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).keptHeads).toEqual([[1, 0], [0, 3]])
    await rm(out, {recursive: true})
    // 5% of 8 heads is 0.4 heads: once kept none and exited 0.
    expectOneLineError(['rewrite', teacher, '--heads', heads, '--budget', '0.05', '--out', out], /--budget 5% of 8 heads is 0\.40 heads, which rounds to none/)
    expect(runCli(['rewrite', teacher, '--heads', heads, '--budget', '3', '--out', out]).status).toBe(2)
    await expectOnly(['heads.json'])
  })

  it('refuses a heads.json made for another model', async () => {
    const other = await writeHeadsJson(root, resolve(fixtureReference, 'phi-tiny'), 2, 4, [[0, 0]], 'other.json')
    expectOneLineError(['rewrite', teacher, '--heads', other, '--out', join(root, 'x')], /was made for model .*phi-tiny/)
    await rm(other)
    await expectOnly(['heads.json'])
  })

  it('refuses a head index out of range', async () => {
    const bad = await writeHeadsJson(root, teacher, 2, 4, [[0, 1], [1, 4]], 'bad.json')
    // The counts in the file say 2 x 4; the selection names head 4 of layer 1.
    expectOneLineError(['rewrite', teacher, '--heads', bad, '--out', join(root, 'x')], /head \[1, 4\] is out of range/)
    await rm(bad)
    await expectOnly(['heads.json'])
  })

  it('refuses an unknown mixer', async () => {
    expectOneLineError(['rewrite', teacher, '--heads', heads, '--mixer', 'mamba9', '--out', join(root, 'x')], /mamba9/)
    await expectOnly(['heads.json'])
  })
})

describe('hybridize forward on a Mamba-2 checkpoint', () => {
  it('writes transformers\' logits for Mamba2ForCausalLM to 1e-4', async () => {
    const folder = join(fixtureReference, 'mamba2-tiny')
    const out = join(root, 'mamba2-out.safetensors')
    const r = runCli(['forward', folder, '--input', join(folder, 'reference.safetensors'), '--output', out, '--device', 'cpu'])
    expect(r.status, r.stderr).toBe(0)
    const got = await openCheckpoint(out)
    const want = await openCheckpoint(join(folder, 'reference.safetensors'))
    expect(relativeError(await got.readF32('logits'), await want.readF32('logits'))).toBeLessThan(1e-4)
    expect(relativeError(await got.readF32('hidden_states.2'), await want.readF32('hidden_states.2'))).toBeLessThan(1e-4)
    await Promise.all([got.close(), want.close()])
    await rm(out)
  })
})
