import {copyFile, mkdtemp, readFile, rm, truncate, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {writeSafetensors} from '../../src/io/safetensors/writer.js'
import {ourStderr, runCli} from '../helpers/cli.js'
import {fixtureReference} from '../helpers/paths.js'

const source = join(fixtureReference, 'llama-tiny')
let root: string

/** A copy of the reference tiny Llama whose model.safetensors is replaced by `bytes`. */
async function modelWith(name: string, bytes?: Uint8Array): Promise<string> {
  const dir = join(root, name)
  await rm(dir, {recursive: true, force: true})
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, {recursive: true}))
  await copyFile(join(source, 'config.json'), join(dir, 'config.json'))
  if (bytes) await writeFile(join(dir, 'model.safetensors'), bytes)
  else await copyFile(join(source, 'model.safetensors'), join(dir, 'model.safetensors'))
  return dir
}

/** A safetensors file from a header object and a data section of `dataBytes` bytes. */
function raw(header: unknown, dataBytes: number, claimedLength?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header))
  const out = new Uint8Array(8 + json.length + dataBytes)
  new DataView(out.buffer).setBigUint64(0, BigInt(claimedLength ?? json.length), true)
  out.set(json, 8)
  return out
}

function expectOneLineError(args: string[], pattern: RegExp): void {
  const r = runCli(args)
  expect(r.status, r.stderr).not.toBe(0)
  const lines = ourStderr(r.stderr)
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^hybridize: error: /)
  expect(lines[0]).toMatch(pattern)
  expect(r.stderr).not.toMatch(/\n\s+at /)
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-bad-'))
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

describe('bad input gives one line on stderr and a non-zero exit', () => {
  it('a truncated checkpoint', async () => {
    const dir = await modelWith('truncated')
    await truncate(join(dir, 'model.safetensors'), 4000)
    expectOneLineError(['inspect', dir], /model\.safetensors/)
  })

  it('a header length larger than the file', async () => {
    const dir = await modelWith('long-header', raw({a: {dtype: 'F32', shape: [1], data_offsets: [0, 4]}}, 4, 1 << 30))
    expectOneLineError(['inspect', dir], /header/i)
  })

  it('overlapping offsets', async () => {
    const header = {a: {dtype: 'F32', shape: [2], data_offsets: [0, 8]}, b: {dtype: 'F32', shape: [2], data_offsets: [4, 12]}}
    const dir = await modelWith('overlap', raw(header, 12))
    expectOneLineError(['inspect', dir], /overlap/i)
  })

  it('offsets outside the file', async () => {
    const dir = await modelWith('outside', raw({a: {dtype: 'F32', shape: [4], data_offsets: [0, 16]}}, 8))
    expectOneLineError(['inspect', dir], /"?a"?/)
  })

  it('an unknown dtype', async () => {
    const dir = await modelWith('dtype', raw({a: {dtype: 'F12', shape: [1], data_offsets: [0, 4]}}, 4))
    expectOneLineError(['inspect', dir], /F12/)
  })

  it('shape and bytes that disagree', async () => {
    const dir = await modelWith('shape', raw({a: {dtype: 'F32', shape: [3], data_offsets: [0, 8]}}, 8))
    expectOneLineError(['inspect', dir], /"?a"?.*(bytes|shape)|(bytes|shape).*"?a"?/i)
  })

  it('a missing shard', async () => {
    const dir = await modelWith('shard')
    await rm(join(dir, 'model.safetensors'))
    const index = {metadata: {total_size: 8}, weight_map: {'model.embed_tokens.weight': 'model-00001-of-00002.safetensors'}}
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify(index))
    expectOneLineError(['inspect', dir], /model-00001-of-00002\.safetensors/)
  })

  it('a config without model_type', async () => {
    const dir = await modelWith('config')
    const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'))
    delete cfg.model_type
    await writeFile(join(dir, 'config.json'), JSON.stringify(cfg))
    expectOneLineError(['inspect', dir], /model_type/)
  })

  it('input_ids of the wrong rank', async () => {
    const input = join(root, 'ids-rank3.safetensors')
    await writeSafetensors(input, [{name: 'input_ids', dtype: 'I32', shape: [1, 2, 3], data: new Int32Array(6)}])
    expectOneLineError(['forward', source, '--input', input, '--output', join(root, 'out.safetensors'), '--device', 'cpu'], /rank 2/)
  })

  it('prints the stack with --debug', async () => {
    const r = runCli(['inspect', join(root, 'nowhere'), '--debug'])
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(/\n\s+at /)
  })
})
