import {resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ourStderr, runCli} from '../helpers/cli.js'
import {repoRoot} from '../helpers/paths.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'

interface GenerateJson {
  promptTokens: number[]
  seed: number
  samples: {text: string; tokens: number[]; finishReason: string}[]
}

describe('hybridize generate', () => {
  let model: Awaited<ReturnType<typeof tinyModelWithTokenizer>>
  beforeAll(async () => {
    model = await tinyModelWithTokenizer()
  })
  afterAll(() => model.cleanup())

  const json = (args: string[]): GenerateJson => {
    const r = runCli(['generate', model.folder, '--device', 'cpu', '--json', ...args])
    expect(r.status, r.stderr).toBe(0)
    return JSON.parse(r.stdout) as GenerateJson
  }

  it('--json gives texts and token ids; a seed repeats a sampled run, and --n draws that many', () => {
    const args = ['--prompt', 'Memorize the following', '--max-new-tokens', '8', '--temperature', '1', '--top-p', '0.9', '--seed', '5', '--n', '3']
    const a = json(args)
    expect(a.seed).toBe(5)
    expect(a.samples).toHaveLength(3)
    for (const s of a.samples) {
      expect(s.tokens.length).toBeLessThanOrEqual(8)
      expect(s.finishReason === 'length' ? s.tokens.length === 8 : s.finishReason === 'eos').toBe(true)
      expect(typeof s.text).toBe('string')
    }
    expect(json(args)).toEqual(a)
  })

  it('streams the continuation to stdout, the same text --json reports', () => {
    const args = ['--prompt', 'The value of the key', '--max-new-tokens', '10', '--temperature', '0']
    const r = runCli(['generate', model.folder, '--device', 'cpu', ...args])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toBe(`${json(args).samples[0].text}\n`)
  })

  it('--precision mixed --kv-cache-dtype f16 continues the fixture teacher greedily as f32 does', () => {
    const args = ['generate', resolve(repoRoot, 'fixtures/llama-tiny'), '--device', 'cpu', '--json', '--prompt', 'The value of the key', '--max-new-tokens', '12', '--temperature', '0']
    const runs = [args, [...args, '--precision', 'mixed', '--kv-cache-dtype', 'f16']].map((a) => runCli(a))
    for (const r of runs) expect(r.status, r.stderr).toBe(0)
    const [f32, half] = runs.map((r) => (JSON.parse(r.stdout) as GenerateJson).samples[0])
    expect(f32.tokens).toHaveLength(12)
    expect(half.tokens).toEqual(f32.tokens)
    const bad = runCli([...args, '--kv-cache-dtype', 'bf16'])
    expect(bad.status).toBe(2)
    expect(ourStderr(bad.stderr)).toHaveLength(1)
  })

  it('a bad --top-p is one line on stderr and exit 2', () => {
    const r = runCli(['generate', model.folder, '--device', 'cpu', '--prompt', 'x', '--top-p', '1.5'])
    expect(r.status).toBe(2)
    expect(ourStderr(r.stderr)).toEqual([`hybridize: error: --top-p must be a number in (0, 1], got '1.5'`])
  })
})
