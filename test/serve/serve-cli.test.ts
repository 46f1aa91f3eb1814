import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {repoRoot} from '../helpers/paths.js'
import {startServe} from '../helpers/serve-process.js'
import {tinyModelWithTokenizer} from '../helpers/tiny-tokenizer-model.js'

describe('hybridize serve (the CLI)', () => {
  let fixture: Awaited<ReturnType<typeof tinyModelWithTokenizer>>
  beforeAll(async () => {
    fixture = await tinyModelWithTokenizer()
  })
  afterAll(() => fixture.cleanup())

  it('listens on loopback by default, answers, and stops cleanly on SIGINT', async () => {
    const {child, url, exited, stderr} = await startServe([fixture.folder, '--port', '0', '--device', 'cpu'])
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/)
    const res = await fetch(`${url}/completions`, {method: 'POST', body: JSON.stringify({prompt: 'The value', max_tokens: 3, temperature: 0})})
    expect(res.status).toBe(200)
    expect(((await res.json()) as {choices: {finish_reason: string}[]}).choices[0].finish_reason).toMatch(/^(length|stop)$/)
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(stderr()).toMatch(/POST \/v1\/completions 200/)
  })

  it('refuses a headers timeout longer than the request timeout with one line and exit 2', async () => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/run.js'), 'serve', fixture.folder, '--port', '0', '--headers-timeout', '20', '--request-timeout', '10'], {env: {...process.env, NO_COLOR: '1'}})
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(code).toBe(2)
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr).toMatch(/--headers-timeout \(20 s\) must not exceed --request-timeout \(10 s\)/)
  })
})
