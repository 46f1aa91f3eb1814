import {mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile} from 'node:fs/promises'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {snapshotDownload} from '@huggingface/hub'
import {afterAll, afterEach, beforeAll, describe, expect, it, vi} from 'vitest'
import {HybridizeError} from '../../src/errors.js'
import {downloadSnapshot, type DownloadOptions} from '../../src/hub/download.js'
import {resolveModel} from '../../src/hub/cache.js'
import {sha256, startFakeHub, type FakeHub} from './fake-hub.js'
import {listing} from './layout.js'
import {bytes, TINY_COMMIT, tinyLlama} from './repos.js'

const SHARD1 = 'model-00001-of-00002.safetensors'
const SHARD2 = 'model-00002-of-00002.safetensors'
const SHARD1_SHA = 'cbbf1aa1724d6a078f109e131e053eaae7eb669f6ef00b1ad46004a6118d965d'
const SHARD2_SHA = '7004b2faf0afe4d911e973f1b2b4306089ee4f91ef37c0b49eff1a15d4727741'
const GRANTED = 'hf_granted_0123456789'
const NOT_GRANTED = 'hf_pending_0123456789'

const gated = {...tinyLlama('acme/gated'), gated: true}
const withBranch = {...tinyLlama('acme/branchy'), refs: {main: TINY_COMMIT, dev: 'd'.repeat(40)}, commit: TINY_COMMIT}
const evil = {
  id: 'acme/evil',
  commit: 'e'.repeat(40),
  files: [
    {path: 'config.json', content: Buffer.from('{}')},
    {path: '../../escaped.json', content: Buffer.from('{"pwned":true}')},
  ],
}
const huge = {
  id: 'acme/huge',
  commit: 'f'.repeat(40),
  files: [
    {path: 'config.json', content: Buffer.from('{}')},
    {path: 'model.safetensors', content: bytes(10, 9), lfs: true, listedSize: 2 ** 52},
  ],
}

let hub: FakeHub
let root: string
let cases = 0

beforeAll(async () => {
  hub = await startFakeHub({
    repos: [tinyLlama(), gated, withBranch, evil, huge, tinyLlama('tiny-gpt')],
    tokens: {[GRANTED]: ['acme/gated'], [NOT_GRANTED]: []},
  })
  root = await mkdtemp(join(tmpdir(), 'hybridize-download-'))
})
afterAll(async () => {
  await hub.close()
  await rm(root, {recursive: true, force: true})
})
afterEach(() => {
  hub.faults.clear()
  hub.requests.length = 0
  hub.sent.clear()
})

/** A fresh, empty HF_HOME for each case, pointed at the fake hub. */
async function freshEnv(extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  const home = join(root, `home-${++cases}`)
  await mkdir(home, {recursive: true})
  return {HF_HOME: home, HF_ENDPOINT: hub.url, ...extra}
}

function download(env: NodeJS.ProcessEnv, opts: Partial<DownloadOptions> = {}) {
  return downloadSnapshot({repo: 'acme/tiny-llama', env, maxWorkers: 4, ...opts})
}

const storage = (env: NodeJS.ProcessEnv, repo = 'acme/tiny-llama') => join(env.HF_HOME!, 'hub', `models--${repo.replace('/', '--')}`)
const fileRequests = () => hub.requests.filter((r) => /\/resolve\/|\/cdn\//.test(r.path))

async function rejection(promise: Promise<unknown>): Promise<HybridizeError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(HybridizeError)
  return err as HybridizeError
}

describe('downloadSnapshot against a local hub', () => {
  it('writes exactly the layout huggingface_hub writes', async () => {
    const env = await freshEnv()
    const result = await download(env)
    const snap = `snapshots/${TINY_COMMIT}`
    // What `hf download acme/tiny-llama --include <same files>` leaves in the cache: blobs named by git blob sha1
    // (plain files) or sha256 (LFS), refs/main holding the commit, and relative links one `../` deeper per folder.
    expect(await listing(storage(env))).toEqual([
      'blobs/3db85667ba363184bb743d23d1299e1d8dba6b99 (52 bytes)',
      'blobs/5508a1fc165cb8ba071c6cea6bd4b54d0b700387 (95 bytes)',
      'blobs/66ce01d7064252f8a73505e9b4f799ba76207394 (78 bytes)',
      `blobs/${SHARD2_SHA} (200000 bytes)`,
      'blobs/c3886f7612c52bea22bf971b22b18dd1b0dc31f6 (30 bytes)',
      `blobs/${SHARD1_SHA} (300000 bytes)`,
      'blobs/e581170b8ee8f2cce4749a6c73067fa65635dddc (13 bytes)',
      'blobs/f06c9d5536391097476a6e85afe8c5d5d48fc92d (36 bytes)',
      'blobs/f9eb48a087423391764d8bb15a5d0666fae89383 (20 bytes)',
      `refs/main = ${TINY_COMMIT}`,
      `${snap}/README.md -> ../../blobs/e581170b8ee8f2cce4749a6c73067fa65635dddc`,
      `${snap}/assets/chat_template.json -> ../../../blobs/c3886f7612c52bea22bf971b22b18dd1b0dc31f6`,
      `${snap}/config.json -> ../../blobs/66ce01d7064252f8a73505e9b4f799ba76207394`,
      `${snap}/generation_config.json -> ../../blobs/f06c9d5536391097476a6e85afe8c5d5d48fc92d`,
      `${snap}/${SHARD1} -> ../../blobs/${SHARD1_SHA}`,
      `${snap}/${SHARD2} -> ../../blobs/${SHARD2_SHA}`,
      `${snap}/model.safetensors.index.json -> ../../blobs/5508a1fc165cb8ba071c6cea6bd4b54d0b700387`,
      `${snap}/tokenizer.json -> ../../blobs/3db85667ba363184bb743d23d1299e1d8dba6b99`,
      `${snap}/tokenizer_config.json -> ../../blobs/f9eb48a087423391764d8bb15a5d0666fae89383`,
    ].sort())
    // Beside the repo: huggingface_hub's lock files (one per blob, left in place as its filelock leaves them) and
    // the cache directory tag it writes.
    expect((await readdir(join(env.HF_HOME!, 'hub'))).sort()).toEqual(['.locks', 'CACHEDIR.TAG', 'models--acme--tiny-llama'])
    const blobNames = (await readdir(join(storage(env), 'blobs'))).sort()
    expect(await listing(join(env.HF_HOME!, 'hub', '.locks'))).toEqual(blobNames.map((b) => `models--acme--tiny-llama/${b}.lock (0 bytes)`).sort())
    expect(await readFile(join(env.HF_HOME!, 'hub', 'CACHEDIR.TAG'), 'utf8')).toMatch(/^Signature: 8a477f597d28d172789f06886806bc55\n/)
    expect(result).toEqual({
      path: join(storage(env), snap),
      commit: TINY_COMMIT,
      files: ['README.md', 'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json',
        'assets/chat_template.json', 'model.safetensors.index.json', SHARD1, SHARD2],
      bytes: 13 + 78 + 36 + 52 + 20 + 30 + 95 + 300_000 + 200_000,
    })
    const repo = tinyLlama()
    expect(await readFile(join(result.path, SHARD1))).toEqual(repo.files.find((f) => f.path === SHARD1)!.content)
    expect(await resolveModel('acme/tiny-llama', {env})).toBe(result.path)
  })

  it('lays out a whole repo exactly as @huggingface/hub snapshotDownload does', async () => {
    const ours = await freshEnv()
    await download(ours, {include: ['*']})
    const theirs = join(root, `hfjs-${++cases}`)
    const debug = vi.spyOn(console, 'debug').mockImplementation(() => undefined)
    try {
      await snapshotDownload({repo: 'acme/tiny-llama', cacheDir: theirs, hubUrl: hub.url})
    } finally {
      debug.mockRestore()
    }
    const expected = await listing(join(theirs, 'models--acme--tiny-llama'))
    expect(expected).toHaveLength(13 + 1 + 13)
    expect(await listing(storage(ours))).toEqual(expected)
  })

  it('fetches nothing already in the cache, and links a blob another tool already fetched', async () => {
    const env = await freshEnv()
    await download(env)
    hub.requests.length = 0
    await download(env)
    expect(fileRequests()).toEqual([])

    await rm(join(storage(env), 'snapshots', TINY_COMMIT, SHARD1))
    await download(env)
    expect(fileRequests()).toEqual([])
    expect((await stat(join(storage(env), 'snapshots', TINY_COMMIT, SHARD1))).size).toBe(300_000)
  })

  it('continues a file with a Range request after the connection is cut', async () => {
    const env = await freshEnv()
    hub.faults.set(SHARD1, {cutAfter: 100_000})
    const result = await download(env)
    const cdn = hub.requests.filter((r) => r.path === `/cdn/${SHARD1_SHA}`)
    expect(cdn.map((r) => r.range)).toEqual([undefined, 'bytes=100000-'])
    expect(hub.sent.get(SHARD1)).toBe(300_000)
    expect(sha256(await readFile(join(result.path, SHARD1)))).toBe(SHARD1_SHA)
  })

  it('resumes the .incomplete file a previous run left, from where it stopped', async () => {
    const env = await freshEnv()
    const blobs = join(storage(env), 'blobs')
    await mkdir(blobs, {recursive: true})
    const shard1 = tinyLlama().files.find((f) => f.path === SHARD1)!.content
    await writeFile(join(blobs, `${SHARD1_SHA}.incomplete`), shard1.subarray(0, 123_456))
    const result = await download(env)
    expect(hub.requests.filter((r) => r.path === `/cdn/${SHARD1_SHA}`).map((r) => r.range)).toEqual(['bytes=123456-'])
    expect(hub.sent.get(SHARD1)).toBe(300_000 - 123_456)
    expect(sha256(await readFile(join(result.path, SHARD1)))).toBe(SHARD1_SHA)
    expect(await readdir(blobs)).not.toContain(`${SHARD1_SHA}.incomplete`)
  })

  it('retries a stalled transfer after the read timeout (HF_HUB_DOWNLOAD_TIMEOUT), resuming with a Range request', async () => {
    const env = await freshEnv({HF_HUB_DOWNLOAD_TIMEOUT: '0.3'})
    hub.faults.set(SHARD1, {stallOnceAfter: 100_000})
    const result = await download(env)
    expect(hub.requests.filter((r) => r.path === `/cdn/${SHARD1_SHA}`).map((r) => r.range)).toEqual([undefined, 'bytes=100000-'])
    expect(hub.sent.get(SHARD1)).toBe(300_000)
    expect(sha256(await readFile(join(result.path, SHARD1)))).toBe(SHARD1_SHA)
  })

  it('gives up after 5 retries of a request the hub never answers, not even with headers', async () => {
    const env = await freshEnv()
    hub.faults.set('config.json', {silent: true})
    const started = Date.now()
    const err = await rejection(download(env, {include: ['config.json'], readTimeout: '0.2'}))
    expect(err.message).toBe(
      `downloading config.json failed 6 times in a row (no data from ${hub.url} for 0.2 s (HF_HUB_DOWNLOAD_TIMEOUT or --timeout sets the limit)); 0 of 78 bytes are kept, run again to resume`,
    )
    expect(err.code).toBe('E_TIMEOUT')
    expect(fileRequests().filter((r) => r.path.endsWith('/config.json'))).toHaveLength(6)
    // 6 timeouts of 0.2 s and backoffs of 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s.
    expect(Date.now() - started).toBeGreaterThan(4000)
  })

  it('fails in one line when the hub does not answer an API request within the read timeout', async () => {
    hub.silentApi = true
    try {
      const err = await rejection(download(await freshEnv(), {readTimeout: '0.2'}))
      expect(err.message).toBe(`no data from ${hub.url} for 0.2 s (HF_HUB_DOWNLOAD_TIMEOUT or --timeout sets the limit)`)
      expect(err.code).toBe('E_TIMEOUT')
    } finally {
      hub.silentApi = false
    }
  })

  it('refuses a read timeout that is not a positive number', async () => {
    const err = await rejection(download(await freshEnv({HF_HUB_DOWNLOAD_TIMEOUT: 'soon'})))
    expect(err.message).toBe('HF_HUB_DOWNLOAD_TIMEOUT must be a positive number of seconds, got "soon"')
    expect((await rejection(download(await freshEnv(), {readTimeout: '0'}))).message).toBe('--timeout must be a positive number of seconds, got "0"')
  })

  it('sends credentials written into HF_ENDPOINT as basic auth, and never prints them', async () => {
    const secretUrl = hub.url.replace('http://', 'http://mirror-user:SECRET-pw@')
    const result = await download(await freshEnv({HF_ENDPOINT: secretUrl}), {include: ['config.json']})
    expect(result.files).toEqual(['config.json'])
    const basic = `Basic ${Buffer.from('mirror-user:SECRET-pw').toString('base64')}`
    expect(hub.requests.map((r) => r.authorization)).toEqual(hub.requests.map(() => basic))

    const missing = await rejection(download(await freshEnv({HF_ENDPOINT: secretUrl}), {repo: 'acme/nope'}))
    expect(missing.message).toBe(`repository acme/nope not found on ${hub.url.replace('http://', 'http://mirror-user:****@')}; if it is private, set HF_TOKEN or pass --token`)
  })

  it('catches a corrupted byte with the checksum, deletes the partial file and links nothing', async () => {
    const env = await freshEnv()
    hub.faults.set(SHARD2, {corrupt: true})
    const err = await rejection(download(env))
    expect(err.message).toMatch(`checksum mismatch for ${SHARD2}`)
    expect(err.message).toMatch(`expected ${SHARD2_SHA}`)
    expect(err.message).toMatch(/partial download was deleted/)
    const blobs = await readdir(join(storage(env), 'blobs'))
    expect(blobs.filter((b) => b.startsWith(SHARD2_SHA))).toEqual([])
    const snapshot = join(storage(env), 'snapshots', TINY_COMMIT)
    expect(await readdir(snapshot).catch(() => [])).not.toContain(SHARD2)
    // No ref to a half snapshot: other commands still say the model is not downloaded.
    await expect(resolveModel('acme/tiny-llama', {env})).rejects.toThrow(/no model acme\/tiny-llama in the Hugging Face cache/)
  })

  it('checks plain git files too, against their git blob sha1', async () => {
    const env = await freshEnv()
    hub.faults.set('config.json', {corrupt: true})
    const err = await rejection(download(env, {include: ['config.json']}))
    expect(err.message).toMatch(/^checksum mismatch for config\.json: got git-sha1 [0-9a-f]{40}, expected 66ce01d7/)
  })

  it('says to set a token for a gated repo (401), and where to ask for access without a grant (403)', async () => {
    // One file each: with several, the workers' requests that the first refusal aborts can still reach the hub
    // after this case ends, and land in the next case's request log.
    const noToken = await rejection(download(await freshEnv(), {repo: 'acme/gated', include: ['config.json']}))
    expect(noToken.message).toBe(
      `acme/gated is gated and needs a Hugging Face token: set HF_TOKEN or pass --token (create one at ${hub.url}/settings/tokens)`,
    )
    expect(noToken.exitCode).toBe(3)

    const notGranted = await rejection(download(await freshEnv({HF_TOKEN: NOT_GRANTED}), {repo: 'acme/gated', include: ['config.json']}))
    expect(notGranted.message).toBe(`your token has no access to acme/gated: request access at ${hub.url}/acme/gated and try again once it is granted`)
    expect(notGranted.exitCode).toBe(4)
    expect(notGranted.message).not.toContain(NOT_GRANTED)
  })

  it('sends the token from --token or the login token file and downloads a granted gated repo', async () => {
    const env = await freshEnv()
    await writeFile(join(env.HF_HOME!, 'token'), `${GRANTED}\n`)
    const result = await download(env, {repo: 'acme/gated', include: ['config.json']})
    expect(result.files).toEqual(['config.json'])
    expect(fileRequests().every((r) => r.authorization === `Bearer ${GRANTED}`)).toBe(true)

    const flagged = await download(await freshEnv({HF_TOKEN: NOT_GRANTED}), {repo: 'acme/gated', include: ['config.json'], token: GRANTED})
    expect(flagged.files).toEqual(['config.json'])
  })

  it('tells a missing repo from a missing revision', async () => {
    const missing = await rejection(download(await freshEnv(), {repo: 'acme/nope'}))
    expect(missing.message).toBe(`repository acme/nope not found on ${hub.url}; if it is private, set HF_TOKEN or pass --token`)
    const withToken = await rejection(download(await freshEnv({HF_TOKEN: GRANTED}), {repo: 'acme/nope'}))
    expect(withToken.message).toBe(`repository acme/nope not found on ${hub.url}`)
    const revision = await rejection(download(await freshEnv(), {revision: 'v9'}))
    expect(revision.message).toBe('revision v9 not found in acme/tiny-llama')
  })

  it('downloads a single-name repo id (like gpt2) into models--<name>', async () => {
    const env = await freshEnv()
    const result = await download(env, {repo: 'tiny-gpt', include: ['config.json']})
    expect(result.path).toBe(join(env.HF_HOME!, 'hub', 'models--tiny-gpt', 'snapshots', TINY_COMMIT))
    expect(await readFile(join(env.HF_HOME!, 'hub', 'models--tiny-gpt', 'refs', 'main'), 'utf8')).toBe(TINY_COMMIT)
    expect(fileRequests().map((r) => r.path)).toEqual([`/tiny-gpt/resolve/${TINY_COMMIT}/config.json`])
    expect(await resolveModel('tiny-gpt', {env})).toBe(result.path)
  })

  it('resolves a branch to its commit and records it under refs/', async () => {
    const env = await freshEnv()
    const result = await download(env, {repo: 'acme/branchy', revision: 'dev', include: ['config.json']})
    expect(result.commit).toBe('d'.repeat(40))
    expect(await readFile(join(storage(env, 'acme/branchy'), 'refs', 'dev'), 'utf8')).toBe('d'.repeat(40))
    expect(await resolveModel('acme/branchy@dev', {env})).toBe(result.path)
  })

  it('HF_HUB_OFFLINE=1 reads the cache only, and says so when the model is absent', async () => {
    const env = await freshEnv()
    const err = await rejection(download({...env, HF_HUB_OFFLINE: '1'}))
    expect(err.message).toBe(`HF_HUB_OFFLINE is set and acme/tiny-llama is not in the Hugging Face cache (${join(env.HF_HOME!, 'hub')}); unset it to download`)
    expect(hub.requests).toEqual([])

    const online = await download(env)
    hub.requests.length = 0
    const offline = await download({...env, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9'})
    expect(offline).toEqual({...online, files: [...online.files].sort()})
    expect(hub.requests).toEqual([])
  })

  it('refuses a repo that lists a file name escaping the cache, before writing anything', async () => {
    const env = await freshEnv()
    const err = await rejection(download(env, {repo: 'acme/evil'}))
    expect(err.message).toBe('refusing unsafe file name from the hub: "../../escaped.json"')
    expect(await readdir(join(env.HF_HOME!)).then((names) => names.filter((n) => n !== 'token'))).toEqual([])
    expect(fileRequests()).toEqual([])
  })

  it('checks free disk space against the total before fetching', async () => {
    const err = await rejection(download(await freshEnv(), {repo: 'acme/huge'}))
    expect(err.message).toMatch(/^not enough disk space in .+: the download needs 4\.50 PB and .+ is free$/)
    expect(fileRequests()).toEqual([])
  })

  it('names the endpoint when the network is unreachable', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const err = await rejection(download(await freshEnv({HF_ENDPOINT: `http://127.0.0.1:${port}`})))
    expect(err.message).toBe(`cannot reach http://127.0.0.1:${port} (ECONNREFUSED): check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the cache only`)
    // A port fetch refuses to use fails before any socket, with no error code.
    const blocked = await rejection(download(await freshEnv({HF_ENDPOINT: 'http://127.0.0.1:9'})))
    expect(blocked.message).toBe('cannot reach http://127.0.0.1:9 (bad port): check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the cache only')
  })

  it('stops on abort with exit code 130, keeping the partial blob out of snapshots/', async () => {
    const env = await freshEnv()
    hub.faults.set(SHARD1, {stallAfter: 64_000})
    const abort = new AbortController()
    const pending = download(env, {signal: abort.signal})
    const partial = join(storage(env), 'blobs', `${SHARD1_SHA}.incomplete`)
    await waitFor(async () => ((await stat(partial).catch(() => undefined))?.size ?? 0) >= 64_000)
    abort.abort()
    const err = await rejection(pending)
    expect(err.exitCode).toBe(130)
    expect(err.message).toMatch(/^interrupted; partial downloads are kept in .+blobs and the next run resumes them$/)
    expect((await stat(partial)).size).toBe(64_000)
    expect(await readdir(join(storage(env), 'snapshots', TINY_COMMIT)).catch(() => [])).not.toContain(SHARD1)
  })

  it('reports a full disk while writing, keeping what was written for the next run', async () => {
    const env = await freshEnv()
    const blobs = join(storage(env), 'blobs')
    await mkdir(blobs, {recursive: true})
    // /dev/full fails every write with ENOSPC, like a disk that fills up mid-download.
    await symlink('/dev/full', join(blobs, `${SHARD2_SHA}.incomplete`))
    const err = await rejection(download(env, {include: [SHARD2]}))
    expect(err.message).toBe(`the disk is full while writing ${join(blobs, `${SHARD2_SHA}.incomplete`)}; free some space and run again to resume`)
    expect(err.code).toBe('E_DISK_FULL')
  })

  it('resolveModel downloads a missing model when asked to', async () => {
    const env = await freshEnv()
    await expect(resolveModel('acme/tiny-llama', {env})).rejects.toThrow(/run `hybridize download acme\/tiny-llama`/)
    const path = await resolveModel('acme/tiny-llama', {env, download: true})
    expect(path).toBe(join(storage(env), 'snapshots', TINY_COMMIT))
    expect(JSON.parse(await readFile(join(path, 'config.json'), 'utf8')).architectures).toEqual(['LlamaForCausalLM'])
  })

  it('says when no file matches --include', async () => {
    const err = await rejection(download(await freshEnv(), {include: ['*.gguf']}))
    expect(err.message).toBe('no file in acme/tiny-llama@main matches --include *.gguf')
  })
})

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
