import {lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {HybridizeError} from '../../src/errors.js'
import {downloadSnapshot, type DownloadOptions} from '../../src/hub/download.js'
import {sha256, startFakeHub, type FakeHub} from './fake-hub.js'
import {listing} from './layout.js'
import {TINY_COMMIT, tinyLlama} from './repos.js'

// File arguments, .no_exist/, --local-dir, links that cannot be made, and two downloads at once.

const SHARD1 = 'model-00001-of-00002.safetensors'
const SHARD2 = 'model-00002-of-00002.safetensors'
const SHARD1_SHA = 'cbbf1aa1724d6a078f109e131e053eaae7eb669f6ef00b1ad46004a6118d965d'
const SHARD2_SHA = '7004b2faf0afe4d911e973f1b2b4306089ee4f91ef37c0b49eff1a15d4727741'
const CONFIG_OID = '66ce01d7064252f8a73505e9b4f799ba76207394'
const repo = tinyLlama()
const content = (path: string) => repo.files.find((f) => f.path === path)!.content

let hub: FakeHub
let root: string
let cases = 0

beforeAll(async () => {
  hub = await startFakeHub({repos: [repo]})
  root = await mkdtemp(join(tmpdir(), 'hybridize-download-options-'))
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

async function freshEnv(extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  const home = join(root, `home-${++cases}`)
  await mkdir(home, {recursive: true})
  return {HF_HOME: home, HF_ENDPOINT: hub.url, ...extra}
}

function download(env: NodeJS.ProcessEnv, opts: Partial<DownloadOptions> = {}) {
  return downloadSnapshot({repo: 'acme/tiny-llama', env, maxWorkers: 4, ...opts})
}

const storage = (env: NodeJS.ProcessEnv) => join(env.HF_HOME!, 'hub', 'models--acme--tiny-llama')
const fileRequests = () => hub.requests.filter((r) => /\/resolve\/|\/cdn\//.test(r.path))

async function rejection(promise: Promise<unknown>): Promise<HybridizeError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(HybridizeError)
  return err as HybridizeError
}

describe('file arguments and .no_exist/', () => {
  it('takes exactly the named files and globs, `dir/` as a whole folder, ignoring the default selection', async () => {
    const env = await freshEnv()
    const result = await download(env, {files: ['config.json', 'model-*.safetensors', 'original/'], include: ['*.md']})
    expect(result.files).toEqual(['config.json', SHARD1, SHARD2, 'original/consolidated.00.pth', 'original/params.json'])
    expect((await readdir(result.path, {recursive: true})).sort()).toEqual(
      ['config.json', SHARD1, SHARD2, 'original', 'original/consolidated.00.pth', 'original/params.json'].sort())
  })

  it('records a named file the commit lacks in .no_exist/<commit>/ and reads that before asking the hub again', async () => {
    const env = await freshEnv()
    const err = await rejection(download(env, {files: ['config.json', 'sub/missing.json']}))
    expect(err.message).toBe('file sub/missing.json not found in acme/tiny-llama@main')
    expect(err.code).toBe('E_FILE_NOT_FOUND')
    expect(fileRequests()).toEqual([])
    expect((await stat(join(storage(env), '.no_exist', TINY_COMMIT, 'sub', 'missing.json'))).size).toBe(0)

    // Pinned to the commit: refused from the record alone, without a request.
    hub.requests.length = 0
    const pinned = await rejection(download(env, {files: ['sub/missing.json'], revision: TINY_COMMIT}))
    expect(pinned.message).toBe(`file sub/missing.json not found in acme/tiny-llama@${TINY_COMMIT} (as the cache recorded in .no_exist/)`)
    expect(hub.requests).toEqual([])

    // On a branch: the commit is asked for (the branch may have moved), the file listing is not.
    const onBranch = await rejection(download(env, {files: ['sub/missing.json']}))
    expect(onBranch.message).toMatch(/\(as the cache recorded in \.no_exist\/\)$/)
    expect(hub.requests.map((r) => new URL(r.path, hub.url).pathname)).toEqual(['/api/models/acme/tiny-llama/revision/main'])
  })
  it('HF_HUB_OFFLINE=1 answers file arguments from the cache: present, recorded missing, or not downloaded', async () => {
    const env = await freshEnv()
    await download(env, {files: ['config.json']})
    await rejection(download(env, {files: ['nope.json']}))
    hub.requests.length = 0
    const offline = {...env, HF_HUB_OFFLINE: '1'}
    expect((await download(offline, {files: ['config.json']})).files).toEqual(['config.json'])
    expect((await rejection(download(offline, {files: ['nope.json']}))).message).toBe(
      `file nope.json not found in acme/tiny-llama@${TINY_COMMIT} (as the cache recorded in .no_exist/)`)
    expect((await rejection(download(offline, {files: ['README.md']}))).message).toBe(
      `HF_HUB_OFFLINE is set and README.md of acme/tiny-llama is not in the Hugging Face cache (${join(env.HF_HOME!, 'hub')}); unset it to download`)
    expect(hub.requests).toEqual([])
  })
})

describe('--local-dir', () => {
  it('writes real files and the .cache/huggingface/ records huggingface_hub writes, and no cache', async () => {
    const env = await freshEnv()
    const dir = join(root, `local-${cases}`)
    const before = Date.now() / 1000
    const result = await download(env, {localDir: dir, files: ['config.json', 'assets/chat_template.json', SHARD1]})
    expect(result.path).toBe(dir)
    const entries = await listing(dir)
    expect(entries.map((e) => e.replace(/\.metadata \(\d+ bytes\)$/, '.metadata'))).toEqual([
      '.cache/huggingface/.gitignore (1 bytes)',
      '.cache/huggingface/CACHEDIR.TAG (191 bytes)',
      '.cache/huggingface/download/assets/chat_template.json.lock (0 bytes)',
      '.cache/huggingface/download/assets/chat_template.json.metadata',
      '.cache/huggingface/download/config.json.lock (0 bytes)',
      '.cache/huggingface/download/config.json.metadata',
      `.cache/huggingface/download/${SHARD1}.lock (0 bytes)`,
      `.cache/huggingface/download/${SHARD1}.metadata`,
      'assets/chat_template.json (30 bytes)',
      'config.json (78 bytes)',
      `${SHARD1} (300000 bytes)`,
    ])
    expect(await readFile(join(dir, '.cache/huggingface/.gitignore'), 'utf8')).toBe('*')
    const [commit, etag, time, end] = (await readFile(join(dir, '.cache/huggingface/download', `${SHARD1}.metadata`), 'utf8')).split('\n')
    expect([commit, etag, end]).toEqual([TINY_COMMIT, SHARD1_SHA, ''])
    expect(Number(time)).toBeGreaterThanOrEqual(before)
    expect((await readFile(join(dir, '.cache/huggingface/download/config.json.metadata'), 'utf8')).split('\n').slice(0, 2)).toEqual([TINY_COMMIT, CONFIG_OID])
    expect((await lstat(join(dir, SHARD1))).isFile()).toBe(true)
    expect(sha256(await readFile(join(dir, SHARD1)))).toBe(SHARD1_SHA)
    expect(await readdir(env.HF_HOME!)).toEqual([])

    hub.requests.length = 0
    await download(env, {localDir: dir, files: ['config.json', 'assets/chat_template.json', SHARD1]})
    expect(fileRequests()).toEqual([])
  })

  it('resumes the .incomplete file huggingface_hub names <short hash>.<etag>.incomplete', async () => {
    const dir = join(root, `local-resume-${++cases}`)
    const partials = join(dir, '.cache/huggingface/download')
    await mkdir(partials, {recursive: true})
    // base64.urlsafe_b64encode(sha1(b"model-00001-of-00002.safetensors.metadata")), computed in Python.
    await writeFile(join(partials, `aoe4E07IMh7reFyUkVoVk040mQk=.${SHARD1_SHA}.incomplete`), content(SHARD1).subarray(0, 100_000))
    await download(await freshEnv(), {localDir: dir, files: [SHARD1]})
    expect(hub.requests.filter((r) => r.path === `/cdn/${SHARD1_SHA}`).map((r) => r.range)).toEqual(['bytes=100000-'])
    expect(sha256(await readFile(join(dir, SHARD1)))).toBe(SHARD1_SHA)
    expect(await readdir(partials)).not.toContain(`aoe4E07IMh7reFyUkVoVk040mQk=.${SHARD1_SHA}.incomplete`)
  })

  it('copies what the cache holds for the commit instead of fetching it', async () => {
    const env = await freshEnv()
    await download(env, {files: [SHARD2]})
    hub.requests.length = 0
    const dir = join(root, `local-from-cache-${cases}`)
    await download(env, {localDir: dir, files: [SHARD2]})
    expect(fileRequests()).toEqual([])
    expect((await lstat(join(dir, SHARD2))).isFile()).toBe(true)
    expect(sha256(await readFile(join(dir, SHARD2)))).toBe(SHARD2_SHA)
  })

  it('keeps a file already holding the right bytes, replaces its own older file, and refuses others without --force', async () => {
    const env = await freshEnv()
    const dir = join(root, `local-existing-${cases}`)
    await mkdir(dir, {recursive: true})
    // The right bytes, put there by hand: checked against the hub's checksum and kept.
    await writeFile(join(dir, 'config.json'), content('config.json'))
    await download(env, {localDir: dir, files: ['config.json']})
    expect(fileRequests()).toEqual([])

    // Changed by the user after the download: not ours any more.
    await writeFile(join(dir, 'config.json'), '{"edited": true}')
    await utimes(join(dir, 'config.json'), new Date(), new Date(Date.now() + 5000))
    const err = await rejection(download(env, {localDir: dir, files: ['config.json', 'README.md']}))
    expect(err.message).toBe(`--local-dir ${dir} already holds config.json, not written by hybridize or huggingface_hub (or changed since); pass --force to overwrite`)
    expect(await readFile(join(dir, 'config.json'), 'utf8')).toBe('{"edited": true}')
    expect(await readdir(dir)).not.toContain('README.md')
    expect(fileRequests()).toEqual([])

    await download(env, {localDir: dir, files: ['config.json'], force: true})
    expect(await readFile(join(dir, 'config.json'))).toEqual(content('config.json'))

    // A file whose record says hybridize wrote it (another etag, untouched since) is replaced without --force.
    const meta = join(dir, '.cache/huggingface/download/config.json.metadata')
    await writeFile(join(dir, 'config.json'), '{"older": true}')
    await writeFile(meta, `${'9'.repeat(40)}\n${'8'.repeat(40)}\n${Date.now() / 1000 + 2}\n`)
    await download(env, {localDir: dir, files: ['config.json']})
    expect(await readFile(join(dir, 'config.json'))).toEqual(content('config.json'))
  })
})

describe('links and locks', () => {
  it('copies files into snapshots/ where symbolic links cannot be made, moving new blobs as huggingface_hub does', async () => {
    const env = await freshEnv()
    const warnings: string[] = []
    let tried = 0
    const noLinks = async () => {
      tried++
      throw Object.assign(new Error('operation not permitted'), {code: 'EPERM'})
    }
    const result = await download(env, {files: ['config.json', SHARD1], symlink: noLinks, notify: (m) => warnings.push(m)})
    for (const f of ['config.json', SHARD1]) {
      expect((await lstat(join(result.path, f))).isFile(), f).toBe(true)
      expect(await readFile(join(result.path, f))).toEqual(content(f))
    }
    expect(tried).toBeGreaterThan(0)
    expect(warnings).toEqual([`warning: symbolic links cannot be made in ${join(env.HF_HOME!, 'hub')}; files are copied into snapshots/ instead, which takes more disk space`])
    expect(await readdir(join(storage(env), 'blobs'))).toEqual([])

    // A blob already in blobs/ (fetched by another tool) is copied, and stays for the snapshots that link to it.
    const again = await freshEnv({HF_HUB_DISABLE_SYMLINKS: '1'})
    await download(again, {files: [SHARD2]})
    const blob = join(storage(again), 'blobs', SHARD2_SHA)
    await writeFile(blob, content(SHARD2))
    await rm(join(storage(again), 'snapshots'), {recursive: true})
    hub.requests.length = 0
    await download(again, {files: [SHARD2], symlink: noLinks})
    expect(fileRequests()).toEqual([])
    expect((await lstat(join(storage(again), 'snapshots', TINY_COMMIT, SHARD2))).isFile()).toBe(true)
    expect((await stat(blob)).size).toBe(200_000)
  })

  it('takes over a lock left by a download that was killed (not refreshed for 10 s)', async () => {
    const env = await freshEnv()
    const lock = join(env.HF_HOME!, 'hub', '.locks', 'models--acme--tiny-llama', `${CONFIG_OID}.lock`)
    // What proper-lockfile leaves beside huggingface_hub's lock file when its process dies by kill -9.
    await mkdir(`${lock}.lock`, {recursive: true})
    const minuteAgo = new Date(Date.now() - 60_000)
    await utimes(`${lock}.lock`, minuteAgo, minuteAgo)
    const waits: string[] = []
    const started = Date.now()
    const result = await download(env, {files: ['config.json'], notify: (m) => waits.push(m)})
    expect(Date.now() - started).toBeLessThan(5000)
    expect(waits).toEqual([])
    expect(await readFile(join(result.path, 'config.json'))).toEqual(content('config.json'))
    expect(await readdir(join(env.HF_HOME!, 'hub', '.locks', 'models--acme--tiny-llama'))).toEqual([`${CONFIG_OID}.lock`])
  })

  it('two downloads of one repository at once end in one correct cache, each blob fetched once', async () => {
    const env = await freshEnv({HF_HUB_DOWNLOAD_TIMEOUT: '0.3'})
    // The first transfer of shard 1 stalls, so the two downloads overlap while one of them holds its lock.
    hub.faults.set(SHARD1, {stallOnceAfter: 100_000})
    const waits: string[] = []
    const [a, b] = await Promise.all([download(env, {notify: (m) => waits.push(m)}), download(env, {notify: (m) => waits.push(m)})])
    expect(b).toEqual(a)
    const lock = join(env.HF_HOME!, 'hub', '.locks', 'models--acme--tiny-llama', `${SHARD1_SHA}.lock`)
    expect(waits).toContain(`waiting for another download of ${SHARD1} to finish (lock ${lock})`)
    for (const f of repo.files) {
      if (!a.files.includes(f.path)) continue
      expect(await readFile(join(a.path, f.path)), f.path).toEqual(f.content)
      expect(hub.sent.get(f.path), f.path).toBe(f.content.length)
    }
    const blobs = await readdir(join(storage(env), 'blobs'))
    expect(blobs.filter((b) => b.includes('.'))).toEqual([])
    expect(blobs).toHaveLength(a.files.length)
    expect((await readdir(join(env.HF_HOME!, 'hub', '.locks', 'models--acme--tiny-llama'))).every((name) => name.endsWith('.lock'))).toBe(true)
  })
})
