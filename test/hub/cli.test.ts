import {spawn, type ChildProcess} from 'node:child_process'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {lstat, mkdir, mkdtemp, readdir, readFile, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {repoRoot} from '../helpers/paths.js'
import {startFakeHub, type FakeHub} from './fake-hub.js'
import {TINY_COMMIT, tinyLlama} from './repos.js'

const SHARD1 = 'model-00001-of-00002.safetensors'
const SHARD1_SHA = 'cbbf1aa1724d6a078f109e131e053eaae7eb669f6ef00b1ad46004a6118d965d'
const SECRET = 'hf_secret_never_printed_42'

let hub: FakeHub
let root: string
let homes = 0

beforeAll(async () => {
  hub = await startFakeHub({repos: [tinyLlama(), {...tinyLlama('acme/gated'), gated: true}, tinyLlama('tiny-gpt')], tokens: {[SECRET]: []}})
  root = await mkdtemp(join(tmpdir(), 'hybridize-cli-download-'))
})
afterAll(async () => {
  await hub.close()
  await rm(root, {recursive: true, force: true})
})

interface Run {
  child: ChildProcess
  done: Promise<{code: number | null; stdout: string; stderr: string}>
}

/** The built CLI as a child process (not spawnSync: the fake hub answers from this process's event loop). */
function hybridize(args: string[], env: NodeJS.ProcessEnv): Run {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/run.js'), ...args], {
    cwd: repoRoot,
    env: {PATH: process.env.PATH, HOME: root, NO_COLOR: '1', HF_ENDPOINT: hub.url, ...env},
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d))
  child.stderr!.on('data', (d: Buffer) => (stderr += d))
  const done = new Promise<{code: number | null; stdout: string; stderr: string}>((resolve) => {
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
  return {child, done}
}

async function freshHome(): Promise<NodeJS.ProcessEnv> {
  const home = join(root, `home-${++homes}`)
  await mkdir(home, {recursive: true})
  return {HF_HOME: home}
}

describe('hybridize download', () => {
  it('prints only the snapshot path on stdout, and nothing on a non-TTY stderr', async () => {
    const env = await freshHome()
    const r = await hybridize(['download', 'acme/tiny-llama'], env).done
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`${join(env.HF_HOME!, 'hub', 'models--acme--tiny-llama', 'snapshots', TINY_COMMIT)}\n`)
  })

  it('--json gives path, commit, files and bytes; --cache-dir and --include are honoured', async () => {
    const cacheDir = join(root, 'custom-cache')
    const r = await hybridize(['download', 'acme/tiny-llama@main', '--json', '--cache-dir', cacheDir, '--include', '*.json', '--exclude', 'assets/*'], await freshHome()).done
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({
      path: join(cacheDir, 'models--acme--tiny-llama', 'snapshots', TINY_COMMIT),
      commit: TINY_COMMIT,
      files: ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors.index.json', 'original/params.json'],
      bytes: 78 + 36 + 52 + 20 + 95 + 11,
    })
  })

  it('Ctrl-C stops with exit 130 and one line, keeps .incomplete, and leaves no half file in snapshots/', async () => {
    const env = await freshHome()
    const storage = join(env.HF_HOME!, 'hub', 'models--acme--tiny-llama')
    const partial = join(storage, 'blobs', `${SHARD1_SHA}.incomplete`)
    hub.faults.set(SHARD1, {stallAfter: 150_000})
    const run = hybridize(['download', 'acme/tiny-llama'], env)
    await waitFor(async () => ((await stat(partial).catch(() => undefined))?.size ?? 0) >= 150_000)
    run.child.kill('SIGINT')
    const r = await run.done
    hub.faults.clear()
    expect(r.code).toBe(130)
    expect(r.stdout).toBe('')
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `hybridize: error: interrupted; partial downloads are kept in ${join(storage, 'blobs')} and the next run resumes them`,
    ])
    expect((await stat(partial)).size).toBe(150_000)
    const snapshot = join(storage, 'snapshots', TINY_COMMIT)
    for (const name of await readdir(snapshot, {recursive: true}).catch(() => [] as string[])) {
      const entry = await lstat(join(snapshot, name))
      if (entry.isDirectory()) continue
      expect(entry.isSymbolicLink(), name).toBe(true)
      expect((await stat(join(snapshot, name))).isFile(), name).toBe(true)
      expect(name).not.toBe(SHARD1)
    }

    hub.requests.length = 0
    const again = await hybridize(['download', 'acme/tiny-llama'], env).done
    expect(again.code, again.stderr).toBe(0)
    expect(hub.requests.filter((q) => q.path === `/cdn/${SHARD1_SHA}`).map((q) => q.range)).toEqual(['bytes=150000-'])
    expect((await stat(join(snapshot, SHARD1))).size).toBe(300_000)
  })

  it('answers a gated repo with one line and its own exit code, never echoing the token', async () => {
    const noToken = await hybridize(['download', 'acme/gated'], await freshHome()).done
    expect(noToken.code).toBe(3)
    expect(noToken.stderr).toBe(`hybridize: error: acme/gated is gated and needs a Hugging Face token: set HF_TOKEN or pass --token (create one at ${hub.url}/settings/tokens)\n`)

    const denied = await hybridize(['download', 'acme/gated', '--token', SECRET], await freshHome()).done
    expect(denied.code).toBe(4)
    expect(denied.stderr).toBe(`hybridize: error: your token has no access to acme/gated: request access at ${hub.url}/acme/gated and try again once it is granted\n`)

    const json = await hybridize(['download', 'acme/gated', '--json'], {...await freshHome(), HF_TOKEN: SECRET}).done
    expect(JSON.parse(json.stdout)).toEqual({error: {message: expect.stringMatching(/^your token has no access/), code: 'E_ACCESS_DENIED'}})
    for (const r of [noToken, denied, json]) expect(r.stdout + r.stderr).not.toContain(SECRET)
  })

  it('never prints credentials written into HF_ENDPOINT: not in the message, --json or the --debug stack', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const endpoint = {HF_ENDPOINT: `http://mirror-user:${SECRET}@127.0.0.1:${port}`}
    const runs = await Promise.all([[], ['--json'], ['--debug']].map(async (extra) =>
      hybridize(['download', 'acme/tiny-llama', ...extra], {...await freshHome(), ...endpoint}).done))
    const shown = `http://mirror-user:****@127.0.0.1:${port}`
    expect(runs[0].stderr).toBe(`hybridize: error: cannot reach ${shown} (ECONNREFUSED): check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the cache only\n`)
    expect(JSON.parse(runs[1].stdout).error.message).toMatch(`cannot reach ${shown} (ECONNREFUSED)`)
    expect(runs[2].stderr).toMatch(/^HybridizeError: cannot reach .+\n\s+at /)
    for (const r of runs) {
      expect(r.code).toBe(1)
      expect(r.stdout + r.stderr).not.toContain(SECRET)
    }
  })

  it('HF_HUB_OFFLINE=1 fails in one line when the model is not cached', async () => {
    const env = await freshHome()
    const r = await hybridize(['download', 'acme/tiny-llama'], {...env, HF_HUB_OFFLINE: '1'}).done
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`hybridize: error: HF_HUB_OFFLINE is set and acme/tiny-llama is not in the Hugging Face cache (${join(env.HF_HOME!, 'hub')}); unset it to download\n`)
  })

  it('takes a single-name repo id, as `hf download gpt2` does', async () => {
    const env = await freshHome()
    const r = await hybridize(['download', 'tiny-gpt', '--include', 'config.json'], env).done
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(`${join(env.HF_HOME!, 'hub', 'models--tiny-gpt', 'snapshots', TINY_COMMIT)}\n`)
  })

  it('prints the file for one file name, as `hf download org/name file` does, and the folder for --local-dir', async () => {
    const env = await freshHome()
    const one = await hybridize(['download', 'acme/tiny-llama', 'config.json', '--revision', 'main', '--include', '*.md'], env).done
    expect(one.code, one.stderr).toBe(0)
    expect(one.stderr).toBe('warning: --include and --exclude are ignored when file names are given\n')
    expect(one.stdout).toBe(`${join(env.HF_HOME!, 'hub', 'models--acme--tiny-llama', 'snapshots', TINY_COMMIT, 'config.json')}\n`)

    const dir = join(root, `local-${homes}`)
    const local = await hybridize(['download', 'acme/tiny-llama', 'config.json', '*.safetensors', '--local-dir', dir, '--json'], env).done
    expect(local.code, local.stderr).toBe(0)
    expect(JSON.parse(local.stdout)).toMatchObject({path: dir, commit: TINY_COMMIT, files: ['config.json', SHARD1, 'model-00002-of-00002.safetensors']})
    expect((await lstat(join(dir, SHARD1))).isFile()).toBe(true)

    const clash = await hybridize(['download', 'acme/tiny-llama@main', '--revision', 'dev'], env).done
    expect(clash.code).toBe(2)
    expect(clash.stderr).toBe('hybridize: error: acme/tiny-llama@main and --revision dev name two revisions; give one\n')
  })

  it('two processes downloading one model at once end in one correct cache, each file fetched once', async () => {
    const env = {...await freshHome(), HF_HUB_DOWNLOAD_TIMEOUT: '0.5'}
    hub.sent.clear()
    hub.faults.set(SHARD1, {stallOnceAfter: 100_000})
    const [a, b] = await Promise.all([hybridize(['download', 'acme/tiny-llama'], env).done, hybridize(['download', 'acme/tiny-llama'], env).done])
    hub.faults.clear()
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0])
    expect(b.stdout).toBe(a.stdout)
    const snapshot = a.stdout.trim()
    for (const f of tinyLlama().files.filter((f) => f.path.endsWith('.json') || f.path.endsWith('.safetensors') || f.path === 'README.md')) {
      if (f.path.startsWith('original/')) continue
      expect(await readFile(join(snapshot, f.path)), f.path).toEqual(f.content)
      expect(hub.sent.get(f.path), f.path).toBe(f.content.length)
    }
  })

  it('rejects a malformed model id', async () => {
    const r = await hybridize(['download', 'not a repo'], await freshHome()).done
    expect(r.code).toBe(2) // a usage error (README, "Exit status")
    expect(r.stderr).toBe('hybridize: error: not a Hugging Face model id: not a repo (expected org/name, a single name like gpt2, and optionally @revision)\n')
  })
})

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
