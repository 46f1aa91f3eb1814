import type {DownloadReporter} from './transfer.js'
import {progressBarsDisabled} from './endpoint.js'
import {formatBytes, formatDuration} from './format.js'

/** One bar per file being fetched plus a total, redrawn in place on a TTY; undefined where bars make no sense. */
export function createDownloadProgress(stream: NodeJS.WriteStream = process.stderr, env = process.env): DownloadReporter | undefined {
  if (!stream.isTTY || env.TERM === 'dumb' || progressBarsDisabled(env)) return undefined
  return new ProgressBars(stream)
}

interface Row {
  label: string
  size: number
  done: number
  /** Bytes per second, smoothed over redraws. */
  rate: number
  sampledDone: number
}

const REDRAW_MS = 100
const BAR_WIDTH = 20

class ProgressBars implements DownloadReporter {
  private readonly rows = new Map<string, Row>()
  private readonly active = new Set<string>()
  private readonly total: Row = {label: 'total', size: 0, done: 0, rate: 0, sampledDone: 0}
  /** Bytes earlier runs left in `.incomplete` files. */
  private kept = 0
  private startedAt = 0
  private sampledAt = 0
  private drawnLines = 0
  private timer?: NodeJS.Timeout

  constructor(private readonly stream: NodeJS.WriteStream) {}

  start(files: {file: string; size: number}[]): void {
    if (files.length === 0) return
    for (const f of files) this.rows.set(f.file, {label: f.file, size: f.size, done: 0, rate: 0, sampledDone: 0})
    this.total.size = files.reduce((sum, f) => sum + f.size, 0)
    this.startedAt = this.sampledAt = Date.now()
    this.timer = setInterval(() => this.redraw(), REDRAW_MS)
    this.timer.unref()
  }

  advance(file: string, bytes: number): void {
    const row = this.rows.get(file)
    if (!row) return
    // The first call reports what a previous run left in `.incomplete`; it is not transfer speed.
    if (!this.active.has(file)) {
      this.active.add(file)
      this.kept += bytes
      row.sampledDone += bytes
      this.total.sampledDone += bytes
    }
    row.done += bytes
    this.total.done += bytes
  }

  finish(file: string): void {
    const row = this.rows.get(file)
    if (!row) return
    this.active.delete(file)
    this.rows.delete(file)
    this.print(`✓ ${row.label}  ${formatBytes(row.size)}`)
  }

  end(): void {
    if (!this.timer) return
    clearInterval(this.timer)
    this.timer = undefined
    const seconds = (Date.now() - this.startedAt) / 1000
    const fetched = this.total.done - this.kept
    const average = seconds >= 1 ? ` (${formatBytes(fetched / seconds)}/s)` : ''
    this.print(`fetched ${formatBytes(fetched)} in ${formatDuration(seconds)}${average}`)
  }

  private print(line: string): void {
    this.clear()
    this.stream.write(`${this.fit(line)}\n`)
    if (this.timer) this.draw()
  }

  private redraw(): void {
    const now = Date.now()
    const dt = (now - this.sampledAt) / 1000
    this.sampledAt = now
    for (const row of [...this.rows.values(), this.total]) {
      const instant = (row.done - row.sampledDone) / dt
      row.rate = row.rate === 0 ? instant : 0.8 * row.rate + 0.2 * instant
      row.sampledDone = row.done
    }
    this.clear()
    this.draw()
  }

  private draw(): void {
    const lines = [...this.active].map((file) => this.line(this.rows.get(file)!)).concat(this.line(this.total))
    this.stream.write(lines.map((l) => `${this.fit(l)}\n`).join(''))
    this.drawnLines = lines.length
  }

  private clear(): void {
    if (this.drawnLines > 0) this.stream.write(`\x1b[${this.drawnLines}F\x1b[J`)
    this.drawnLines = 0
  }

  private line(row: Row): string {
    const fraction = row.size > 0 ? Math.min(1, row.done / row.size) : 1
    const filled = Math.round(fraction * BAR_WIDTH)
    const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`
    const eta = row.rate > 0 ? formatDuration((row.size - row.done) / row.rate) : '--:--'
    const numbers = `${bar} ${String(Math.floor(fraction * 100)).padStart(3)}%  ${formatBytes(row.done)}/${formatBytes(row.size)}  ${formatBytes(row.rate)}/s  ETA ${eta}`
    const room = Math.max(8, (this.stream.columns || 80) - numbers.length - 3)
    const label = row.label.length > room ? `…${row.label.slice(-(room - 1))}` : row.label
    return `${label.padEnd(Math.min(room, 40))}  ${numbers}`
  }

  /** A line longer than the terminal wraps and breaks the cursor arithmetic of `clear`. */
  private fit(line: string): string {
    const columns = (this.stream.columns || 80) - 1
    return line.length > columns ? line.slice(0, columns) : line
  }
}
