import {describe, expect, it} from 'vitest'
import {formatBytes, formatDuration} from '../../src/hub/format.js'
import {createDownloadProgress} from '../../src/hub/progress-bars.js'

/** A stand-in for process.stderr: a TTY of `columns` width that records what is written. */
function fakeTty(columns = 100): NodeJS.WriteStream & {text: () => string} {
  const chunks: string[] = []
  return {
    isTTY: true,
    columns,
    write: (chunk: string) => chunks.push(chunk) > 0,
    text: () => chunks.join(''),
  } as unknown as NodeJS.WriteStream & {text: () => string}
}

const plain = (text: string) => text.replace(/\x1b\[\d*[A-Za-z]/g, '')

describe('download progress', () => {
  it('is off on a non-TTY, with TERM=dumb and with HF_HUB_DISABLE_PROGRESS_BARS', () => {
    expect(createDownloadProgress({isTTY: false} as NodeJS.WriteStream, {})).toBeUndefined()
    expect(createDownloadProgress(fakeTty(), {TERM: 'dumb'})).toBeUndefined()
    expect(createDownloadProgress(fakeTty(), {HF_HUB_DISABLE_PROGRESS_BARS: '1'})).toBeUndefined()
    expect(createDownloadProgress(fakeTty(), {})).toBeDefined()
  })

  it('draws a line per active file and a total with bytes, rate and ETA, then a summary', async () => {
    const tty = fakeTty()
    const bars = createDownloadProgress(tty, {})!
    bars.start([{file: 'model-00001-of-00002.safetensors', size: 4_000_000}, {file: 'config.json', size: 1_000}])
    bars.advance('model-00001-of-00002.safetensors', 1_000_000) // kept from an earlier run
    bars.advance('model-00001-of-00002.safetensors', 500_000)
    await new Promise((resolve) => setTimeout(resolve, 250))
    bars.advance('config.json', 0)
    bars.advance('config.json', 1_000)
    bars.finish('config.json')
    bars.end()
    const lines = plain(tty.text()).split('\n')
    const fileLine = lines.find((l) => l.startsWith('model-00001-of-00002.safetensors'))!
    expect(fileLine).toMatch(/ 37%  1.50 MB\/4.00 MB {2}[\d.]+ [kMG]?B\/s {2}ETA \d+:\d\d$/)
    expect(lines.some((l) => /^total\s+.* 37%  1.50 MB\/4.00 MB .*ETA/.test(l))).toBe(true)
    expect(lines).toContain('✓ config.json  1.00 kB')
    expect(lines.at(-2)).toBe('fetched 501 kB in 0:00')
    expect(lines.every((l) => l.length < 100)).toBe(true)
  })

  it('cuts long names to fit the terminal width', async () => {
    const tty = fakeTty(60)
    const bars = createDownloadProgress(tty, {})!
    bars.start([{file: `${'deep/'.repeat(20)}model.safetensors`, size: 10}])
    bars.advance(`${'deep/'.repeat(20)}model.safetensors`, 5)
    await new Promise((resolve) => setTimeout(resolve, 150))
    bars.end()
    const lines = plain(tty.text()).split('\n').filter(Boolean)
    expect(lines.some((l) => l.startsWith('…'))).toBe(true)
    expect(lines.every((l) => l.length <= 59)).toBe(true)
  })
})

describe('formatting', () => {
  it('prints decimal byte units and m:ss durations', () => {
    expect(formatBytes(999)).toBe('999 B')
    expect(formatBytes(1_500)).toBe('1.50 kB')
    expect(formatBytes(2_471_000_000)).toBe('2.47 GB')
    expect(formatBytes(123_400_000)).toBe('123 MB')
    expect(formatDuration(65)).toBe('1:05')
    expect(formatDuration(3_725)).toBe('1:02:05')
    expect(formatDuration(Infinity)).toBe('--:--')
  })
})
