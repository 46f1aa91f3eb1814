import {mkdir, mkdtemp, readFile, rm, symlink, writeFile} from 'node:fs/promises'
import {homedir, tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {hfHome, hubCacheDir, resolveModel} from '../../src/hub/cache.js'
import {hubEndpoint, isOffline} from '../../src/hub/endpoint.js'
import {parseRepoRef} from '../../src/hub/repo-ref.js'
import {resolveToken} from '../../src/hub/token.js'

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-cache-'))
})
afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

describe('environment', () => {
  it('finds the hub cache like huggingface_hub: HF_HUB_CACHE, then HF_HOME/hub, then ~/.cache', () => {
    expect(hubCacheDir({HF_HUB_CACHE: '/x/hub', HF_HOME: '/y'})).toBe('/x/hub')
    expect(hubCacheDir({HUGGINGFACE_HUB_CACHE: '/legacy', HF_HOME: '/y'})).toBe('/legacy')
    expect(hubCacheDir({HF_HOME: '/y'})).toBe('/y/hub')
    expect(hubCacheDir({XDG_CACHE_HOME: '/xdg'})).toBe('/xdg/huggingface/hub')
    expect(hubCacheDir({})).toBe(join(homedir(), '.cache/huggingface/hub'))
    expect(hubCacheDir({HF_HOME: '~/hf'})).toBe(join(homedir(), 'hf/hub'))
    expect(hfHome({})).toBe(join(homedir(), '.cache/huggingface'))
  })

  it('reads HF_ENDPOINT and HF_HUB_OFFLINE', () => {
    expect(hubEndpoint({})).toBe('https://huggingface.co')
    expect(hubEndpoint({HF_ENDPOINT: 'https://hf-mirror.com/'})).toBe('https://hf-mirror.com')
    expect(() => hubEndpoint({HF_ENDPOINT: 'hf-mirror.com'})).toThrow('HF_ENDPOINT must be an http(s) URL such as https://hf-mirror.com, got "hf-mirror.com"')
    expect(() => hubEndpoint({HF_ENDPOINT: 'ftp://u:SECRET@mirror'})).toThrow('got "ftp://u:****@mirror"')
    expect(isOffline({HF_HUB_OFFLINE: '1'})).toBe(true)
    expect(isOffline({HF_HUB_OFFLINE: 'TRUE'})).toBe(true)
    expect(isOffline({HF_HUB_OFFLINE: '0'})).toBe(false)
    expect(isOffline({})).toBe(false)
  })

  it('takes the token from --token, then HF_TOKEN, then the login token file', async () => {
    const home = join(root, 'hf-home')
    await mkdir(home, {recursive: true})
    await writeFile(join(home, 'token'), 'hf_fromfile\n')
    await writeFile(join(root, 'other-token'), 'hf_frompath')
    expect(await resolveToken('hf_flag', {HF_TOKEN: 'hf_env', HF_HOME: home})).toBe('hf_flag')
    expect(await resolveToken(undefined, {HF_TOKEN: 'hf_env', HF_HOME: home})).toBe('hf_env')
    expect(await resolveToken(undefined, {HUGGING_FACE_HUB_TOKEN: 'hf_legacy', HF_HOME: home})).toBe('hf_legacy')
    expect(await resolveToken(undefined, {HF_TOKEN: '', HF_HOME: home})).toBe('hf_fromfile')
    expect(await resolveToken(undefined, {HF_HOME: home, HF_TOKEN_PATH: join(root, 'other-token')})).toBe('hf_frompath')
    expect(await resolveToken(undefined, {HF_HOME: join(root, 'nowhere')})).toBeUndefined()
  })

  it('parses org/name[@revision] and rejects what the hub would', () => {
    expect(parseRepoRef('meta-llama/Llama-3.2-1B')).toEqual({repo: 'meta-llama/Llama-3.2-1B'})
    expect(parseRepoRef('microsoft/phi-1_5@main')).toEqual({repo: 'microsoft/phi-1_5', revision: 'main'})
    expect(parseRepoRef('acme/m@refs/pr/1')).toEqual({repo: 'acme/m', revision: 'refs/pr/1'})
    expect(parseRepoRef('gpt2')).toEqual({repo: 'gpt2'})
    expect(parseRepoRef('bert-base-uncased@v1')).toEqual({repo: 'bert-base-uncased', revision: 'v1'})
    for (const bad of ['a/b/c', 'a--b/c', 'a/b..c', '-a/b', 'a/b@', 'a/b@../../x', 'a/b@x y', './model']) {
      expect(parseRepoRef(bad), bad).toBeUndefined()
    }
  })
})

/**
 * A cache written the way huggingface_hub writes it (`hf download acme/tiny-llama`, then `--revision v1.0`):
 *
 *   hub/.locks/models--acme--tiny-llama/<etag>.lock
 *   hub/models--acme--tiny-llama/blobs/<etag>
 *   hub/models--acme--tiny-llama/refs/main          "<commit A>" (no newline)
 *   hub/models--acme--tiny-llama/refs/v1.0          "<commit B>"
 *   hub/models--acme--tiny-llama/snapshots/<A>/config.json -> ../../blobs/<etag>
 *   hub/models--acme--tiny-llama/snapshots/<A>/sub/x.json  -> ../../../blobs/<etag2>
 *   hub/models--acme--tiny-llama/snapshots/<B>/config.json -> ../../blobs/<etag3>
 *   hub/models--acme--tiny-llama/.no_exist/<A>/model.safetensors.index.json
 */
describe('resolveModel on a cache laid out by huggingface_hub', () => {
  const commitA = 'a'.repeat(40)
  const commitB = 'b'.repeat(40)
  let hub: string
  let env: NodeJS.ProcessEnv

  beforeAll(async () => {
    hub = join(root, 'python-home', 'hub')
    env = {HF_HOME: join(root, 'python-home')}
    const repo = join(hub, 'models--acme--tiny-llama')
    await mkdir(join(repo, 'blobs'), {recursive: true})
    await mkdir(join(repo, 'refs'), {recursive: true})
    await mkdir(join(repo, 'snapshots', commitA, 'sub'), {recursive: true})
    await mkdir(join(repo, 'snapshots', commitB), {recursive: true})
    await mkdir(join(repo, '.no_exist', commitA), {recursive: true})
    await mkdir(join(hub, '.locks', 'models--acme--tiny-llama'), {recursive: true})
    const blobs = {one: '1'.repeat(40), two: '2'.repeat(40), three: '3'.repeat(40)}
    await writeFile(join(repo, 'blobs', blobs.one), '{"v": "A"}')
    await writeFile(join(repo, 'blobs', blobs.two), '{"nested": true}')
    await writeFile(join(repo, 'blobs', blobs.three), '{"v": "B"}')
    await writeFile(join(hub, '.locks', 'models--acme--tiny-llama', `${blobs.one}.lock`), '')
    await writeFile(join(repo, 'refs', 'main'), commitA)
    await writeFile(join(repo, 'refs', 'v1.0'), commitB)
    await writeFile(join(repo, '.no_exist', commitA, 'model.safetensors.index.json'), '')
    await symlink(`../../blobs/${blobs.one}`, join(repo, 'snapshots', commitA, 'config.json'))
    await symlink(`../../../blobs/${blobs.two}`, join(repo, 'snapshots', commitA, 'sub', 'x.json'))
    await symlink(`../../blobs/${blobs.three}`, join(repo, 'snapshots', commitB, 'config.json'))
  })

  it('finds refs/main by default and reads files through the links', async () => {
    const path = await resolveModel('acme/tiny-llama', {env})
    expect(path).toBe(join(hub, 'models--acme--tiny-llama', 'snapshots', commitA))
    expect(await readFile(join(path, 'config.json'), 'utf8')).toBe('{"v": "A"}')
    expect(await readFile(join(path, 'sub', 'x.json'), 'utf8')).toBe('{"nested": true}')
  })

  it('follows a named ref and takes a commit hash directly', async () => {
    const tagged = await resolveModel('acme/tiny-llama@v1.0', {env})
    expect(await readFile(join(tagged, 'config.json'), 'utf8')).toBe('{"v": "B"}')
    expect(await resolveModel(`acme/tiny-llama@${commitA}`, {env})).toBe(join(hub, 'models--acme--tiny-llama', 'snapshots', commitA))
  })

  it('honours HF_HUB_CACHE over HF_HOME', async () => {
    const path = await resolveModel('acme/tiny-llama', {env: {HF_HOME: join(root, 'elsewhere'), HF_HUB_CACHE: hub}})
    expect(path).toBe(join(hub, 'models--acme--tiny-llama', 'snapshots', commitA))
  })

  it('says to run hybridize download for a model or revision the cache lacks', async () => {
    await expect(resolveModel('acme/other', {env})).rejects.toThrow(/no model acme\/other in the Hugging Face cache .+; if it is a hub id, run `hybridize download acme\/other`$/)
    await expect(resolveModel('acme/tiny-llama@dev', {env})).rejects.toThrow(/run `hybridize download acme\/tiny-llama@dev`/)
    await expect(resolveModel(`acme/tiny-llama@${'c'.repeat(40)}`, {env})).rejects.toThrow(/no model acme\/tiny-llama in the Hugging Face cache/)
  })

  it('names both possibilities for a reference that reads as a path and as a hub id, a mistyped local folder', async () => {
    // fixtures/llama-tiny exists (relative to the repository root, the tests' working folder).
    const typo = 'fixtures/llama-tinny'
    await expect(resolveModel(typo, {env})).rejects.toThrow(
      `no such model folder: ${typo}, and no model fixtures/llama-tinny in the Hugging Face cache (${hub}); if it is a hub id, run \`hybridize download ${typo}\``,
    )
    await expect(resolveModel('gpt2', {env})).rejects.toThrow(
      `no such model folder: gpt2, and no model gpt2 in the Hugging Face cache (${hub}); if it is a hub id, run \`hybridize download gpt2\``,
    )
  })

  it('finds a single-name repo id (gpt2) in the cache as huggingface_hub names it, models--gpt2', async () => {
    const snapshot = join(hub, 'models--gpt2', 'snapshots', commitA)
    await mkdir(snapshot, {recursive: true})
    await mkdir(join(hub, 'models--gpt2', 'refs'), {recursive: true})
    await writeFile(join(hub, 'models--gpt2', 'refs', 'main'), commitA)
    expect(await resolveModel('gpt2', {env})).toBe(snapshot)
  })

  it('returns an existing folder as is, and names a path that is neither folder nor repo id', async () => {
    const folder = join(root, 'local-model')
    await mkdir(folder, {recursive: true})
    expect(await resolveModel(folder, {env})).toBe(folder)
    await expect(resolveModel(join(root, 'missing', 'folder'), {env})).rejects.toThrow(`no such model folder: ${join(root, 'missing', 'folder')} (nor a hub id org/name[@revision])`)
    await writeFile(join(root, 'a-file'), 'x')
    await expect(resolveModel(join(root, 'a-file'), {env})).rejects.toThrow(`not a model folder: ${join(root, 'a-file')} is a file`)
  })
})
