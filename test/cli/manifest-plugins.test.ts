import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ourStderr, runCli} from '../helpers/cli.js'
import {repoRoot} from '../helpers/paths.js'

/**
 * oclif.manifest.json (written by `npm run build` and the test setup) lists every command with its
 * flags; the autocomplete and not-found plugins are registered; HYBRIDIZE_DEVICE is --device's default.
 */
let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hybridize-manifest-'))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

interface ManifestCommand {
  flags: Record<string, {type: string; default?: unknown; env?: string}>
}

describe('oclif.manifest.json', () => {
  it('is fresh: every command in src/commands, with every flag it declares, at the package version', async () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {version: string; commands: Record<string, ManifestCommand>}
    const files = readdirSync(join(repoRoot, 'src', 'commands')).filter((f) => f.endsWith('.ts'))
    expect(Object.keys(manifest.commands).sort()).toEqual(files.map((f) => f.replace(/\.ts$/, '')).sort())
    for (const file of files) {
      const command = (await import(join(repoRoot, 'src', 'commands', file))).default as {flags?: object; baseFlags?: object; enableJsonFlag?: boolean}
      const declared = [...Object.keys({...command.baseFlags, ...command.flags}), ...(command.enableJsonFlag ? ['json'] : [])]
      expect(Object.keys(manifest.commands[file.replace(/\.ts$/, '')].flags).sort(), file).toEqual(declared.sort())
    }
    expect(manifest.version).toBe(JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version)
    expect(manifest.commands.eval.flags.device).toMatchObject({default: 'auto', env: 'HYBRIDIZE_DEVICE'})
  })
})

describe('plugins', () => {
  it('autocomplete writes completion functions that know the commands and their flags', () => {
    const r = runCli(['autocomplete', 'bash'], {XDG_CACHE_HOME: dir})
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain('hybridize autocomplete script bash')
    const bash = join(dir, 'hybridize', 'autocomplete', 'functions', 'bash', 'hybridize.bash')
    expect(existsSync(bash)).toBe(true)
    const text = readFileSync(bash, 'utf8')
    expect(text).toContain('find-heads')
    expect(text).toContain('--device')
  })

  it('not-found names the mistyped command and exits 127, without a stack', () => {
    const r = runCli(['evl'])
    expect(r.status).toBe(127)
    expect(r.stderr).toMatch(/evl is not a hybridize command/)
    expect(r.stderr).toMatch(/Run hybridize help for a list of available commands/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})

describe('HYBRIDIZE_DEVICE', () => {
  const forward = ['forward', 'fixtures/phi-tiny', '--text', 'a', '--top', '1']

  it('is the default of --device, shown in --help, and --device overrides it', () => {
    expect(runCli(['eval', '--help']).stdout).toMatch(/\[default: auto, env: HYBRIDIZE_DEVICE\]/)
    const used = runCli(forward, {HYBRIDIZE_DEVICE: 'cpu'})
    expect(used.status, used.stderr).toBe(0)
    expect(used.stderr).toMatch(/^device: cpu\b/m)
    const overridden = runCli([...forward, '--device', 'cpu'], {HYBRIDIZE_DEVICE: 'tpu'})
    expect(overridden.status, overridden.stderr).toBe(0)
  })

  it('refuses a value that is not a device as a usage error naming the variable, in one line', () => {
    const r = runCli(forward, {HYBRIDIZE_DEVICE: 'tpu'})
    expect(r.status).toBe(2)
    expect(ourStderr(r.stderr)).toEqual(['hybridize: error: HYBRIDIZE_DEVICE=tpu is not a device: expected one of auto, webgpu, cpu (it sets the default of --device)'])
  })
})
