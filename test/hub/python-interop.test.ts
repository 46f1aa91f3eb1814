import {spawn} from 'node:child_process'
import {mkdir, mkdtemp, readFile, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {downloadSnapshot, type DownloadOptions} from '../../src/hub/download.js'
import {startFakeHub, type FakeHub} from './fake-hub.js'
import {listing} from './layout.js'
import {TINY_COMMIT, tinyLlama} from './repos.js'

/**
 * huggingface_hub's own `hf download` against the same fake hub, run only where HYBRIDIZE_HF_CLI names its `hf`
 * executable (e.g. a virtualenv with `pip install huggingface_hub`): each tool's cache and --local-dir must be
 * the other's, file for file, and neither may fetch again what the other fetched.
 */
const hf = process.env.HYBRIDIZE_HF_CLI
const FILES = ['config.json', 'model-00001-of-00002.safetensors', 'assets/chat_template.json']

let hub: FakeHub
let root: string
let homes = 0

beforeAll(async () => {
  if (!hf) return
  // A CDN on another host, as huggingface_hub expects LFS redirects to lead.
  hub = await startFakeHub({repos: [tinyLlama()], cdnHost: '127.0.0.2'})
  root = await mkdtemp(join(tmpdir(), 'hybridize-python-interop-'))
})
afterAll(async () => {
  if (!hf) return
  await hub.close()
  await rm(root, {recursive: true, force: true})
})

async function home(): Promise<NodeJS.ProcessEnv> {
  const dir = join(root, `home-${++homes}`)
  await mkdir(dir, {recursive: true})
  return {HF_HOME: dir, HF_ENDPOINT: hub.url}
}

function python(args: string[], env: NodeJS.ProcessEnv): Promise<{code: number | null; output: string}> {
  return new Promise((resolve) => {
    const child = spawn(hf!, ['download', 'acme/tiny-llama', ...args], {env: {PATH: process.env.PATH, HF_HUB_DISABLE_TELEMETRY: '1', ...env}})
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d))
    child.stderr.on('data', (d: Buffer) => (output += d))
    child.on('close', (code) => resolve({code, output}))
  })
}

const ours = (env: NodeJS.ProcessEnv, opts: Partial<DownloadOptions> = {}) =>
  downloadSnapshot({repo: 'acme/tiny-llama', env, files: FILES, quiet: true, ...opts})
const fileRequests = () => hub.requests.filter((r) => /\/resolve\/|\/cdn\//.test(r.path))
// huggingface_hub 1.x also caches file listings under trees/; hybridize does not need them.
const withoutTrees = (lines: string[]) => lines.filter((line) => !/(^|\/)trees\//.test(line))
// Metadata files differ only in how many digits of the time each tool writes.
const withoutMetadataSize = (lines: string[]) => lines.map((line) => line.replace(/\.metadata \(\d+ bytes\)$/, '.metadata'))

describe.skipIf(!hf)('interoperability with huggingface_hub (HYBRIDIZE_HF_CLI)', () => {
  it('writes the cache huggingface_hub writes, and each reuses the other\'s without a request', async () => {
    const py = await home()
    const js = await home()
    expect((await python(FILES, py)).code).toBe(0)
    await ours(js)
    expect(withoutTrees(await listing(join(js.HF_HOME!, 'hub')))).toEqual(withoutTrees(await listing(join(py.HF_HOME!, 'hub'))))

    hub.requests.length = 0
    const again = await python(FILES, js)
    expect(again.code, again.output).toBe(0)
    await ours(py)
    expect(fileRequests()).toEqual([])
  })

  it('writes the --local-dir folder huggingface_hub writes, and each trusts the other\'s records', async () => {
    const env = await home()
    const [py, js] = [join(root, 'local-python'), join(root, 'local-hybridize')]
    expect((await python([...FILES, '--local-dir', py], env)).code).toBe(0)
    await ours(env, {localDir: js})
    expect(withoutMetadataSize(withoutTrees(await listing(js)))).toEqual(withoutMetadataSize(withoutTrees(await listing(py))))
    for (const f of FILES) {
      const record = (dir: string) => readFile(join(dir, '.cache/huggingface/download', `${f}.metadata`), 'utf8').then((t) => t.split('\n').slice(0, 2))
      expect(await record(js)).toEqual(await record(py))
    }

    hub.requests.length = 0
    expect((await python([...FILES, '--local-dir', js], env)).code).toBe(0)
    await ours(env, {localDir: py})
    expect(fileRequests()).toEqual([])
  })

  it('reads the .no_exist/ record huggingface_hub writes for a missing file', async () => {
    const env = await home()
    expect((await python(['missing.json'], env)).code).not.toBe(0)
    expect((await stat(join(env.HF_HOME!, 'hub', 'models--acme--tiny-llama', '.no_exist', TINY_COMMIT, 'missing.json'))).isFile()).toBe(true)
    hub.requests.length = 0
    await expect(ours(env, {files: ['missing.json'], revision: TINY_COMMIT})).rejects.toThrow(/recorded in \.no_exist/)
    expect(hub.requests).toEqual([])
  })
})
