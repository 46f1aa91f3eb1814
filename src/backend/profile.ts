import {existsSync, readFileSync, renameSync, statSync, writeFileSync} from 'node:fs'
import {dirname, resolve} from 'node:path'
import {performance} from 'node:perf_hooks'
import {HybridizeError} from '../errors.js'

/**
 * HYBRIDIZE_PROFILE=<file.json>: what a backend did while it lived, per kernel and in total, written
 * as JSON and summarised on stderr when the backend is destroyed (the end of a command). Per kernel:
 * calls and time, which on WebGPU is GPU time from timestamp queries (one compute pass per dispatch,
 * webgpu-timestamps.ts) and on the CPU the host time of the synchronous kernel; in total: dispatches,
 * submits, reads (buffer maps) and syncs with the host time spent waiting on them, writes, pipelines
 * compiled, and the host time between submits (encoding and everything above the backend).
 * Backends hold a Profiler only when the variable is set, so profiling costs nothing when off.
 */

/** Where kernel times come from, or why there are none. */
export type KernelTiming = 'gpu-timestamps' | 'cpu' | {none: string}

interface KernelEntry {
  calls: number
  /** Nanoseconds measured, and over how many of the calls (some dispatches go untimed). */
  ns: number
  timed: number
  /** The same kernel by its parameters (shapes, flags), so a matmul's sizes can be told apart. */
  variants: Map<string, {calls: number; ns: number}>
}

/** One kernel launch, as `dispatch` returns it for `time`. */
export interface Launch {
  entry: KernelEntry
  variant: string
}

/** A wait on the device: how many, and the host milliseconds spent in them. */
interface Waits {
  count: number
  ms: number
}

/** Marks the file as a profile hybridize wrote, which it may overwrite. */
const FORMAT = 'hybridize-profile/1'
/** Variants kept per kernel in the JSON, the costliest first. */
const MAX_VARIANTS = 12
/**
 * Milliseconds between snapshots of the JSON written while the command runs (at reads and syncs),
 * so a command stopped by a signal or a timeout still leaves its profile up to then.
 */
const SNAPSHOT_MS = 10_000

export class Profiler {
  private readonly kernels = new Map<string, KernelEntry>()
  private readonly started = performance.now()
  private timing: KernelTiming = {none: 'not set by the backend'}
  private device = ''
  dispatches = 0
  submits = 0
  readonly reads: Waits = {count: 0, ms: 0}
  readonly syncs: Waits = {count: 0, ms: 0}
  readonly writes = {count: 0, bytes: 0}
  readonly pipelines = {compiled: 0, ms: 0}
  /** Host time between one submit (or the end of a wait) and the next submit. */
  private readonly between = {total: 0, max: 0, count: 0}
  private lastMark = performance.now()
  private lastSnapshot = performance.now()
  private written = false

  /** `snapshotMs`: how often the JSON so far is written while the command runs. */
  constructor(readonly path: string, private readonly snapshotMs = SNAPSHOT_MS) {}

  /** The backend says what it is and how it times kernels. */
  describe(device: string, timing: KernelTiming): void {
    this.device = device
    this.timing = timing
  }

  /** One kernel launched; returns the launch, to which `time` adds. */
  dispatch(name: string, params: unknown): Launch {
    this.dispatches++
    let entry = this.kernels.get(name)
    if (!entry) this.kernels.set(name, (entry = {calls: 0, ns: 0, timed: 0, variants: new Map()}))
    entry.calls++
    const variant = JSON.stringify(params) ?? ''
    const v = entry.variants.get(variant)
    if (v) v.calls++
    else entry.variants.set(variant, {calls: 1, ns: 0})
    return {entry, variant}
  }

  /** Nanoseconds one launch (from `dispatch`) took. */
  time({entry, variant}: Launch, ns: number): void {
    entry.ns += ns
    entry.timed++
    const v = entry.variants.get(variant)
    if (v) v.ns += ns
  }

  /** A submit: the host time since the last submit or wait ended counts as time between submits. */
  submit(): void {
    this.submits++
    const now = performance.now()
    const gap = now - this.lastMark
    this.between.total += gap
    this.between.max = Math.max(this.between.max, gap)
    this.between.count++
    this.lastMark = now
  }

  /** Time `wait` (a read's map, a sync) as a wait of `kind`. */
  async wait<T>(kind: Waits, wait: () => Promise<T>): Promise<T> {
    const t0 = performance.now()
    try {
      return await wait()
    } finally {
      const now = performance.now()
      kind.count++
      kind.ms += now - t0
      this.lastMark = now
      this.snapshot()
    }
  }

  report(): ProfileReport {
    const kernels = [...this.kernels.entries()].map(([name, e]) => ({
      name,
      calls: e.calls,
      timed_calls: e.timed,
      total_ms: e.timed ? e.ns / 1e6 : null,
      mean_us: e.timed ? e.ns / e.timed / 1e3 : null,
      variants: [...e.variants.entries()]
        .sort((a, b) => b[1].ns - a[1].ns || b[1].calls - a[1].calls)
        .slice(0, MAX_VARIANTS)
        .map(([params, v]) => ({params, calls: v.calls, total_ms: v.ns / 1e6})),
    }))
    kernels.sort((a, b) => (b.total_ms ?? 0) - (a.total_ms ?? 0) || b.calls - a.calls)
    const kernelMs = kernels.reduce((s, k) => s + (k.total_ms ?? 0), 0)
    const timed = kernels.reduce((s, k) => s + k.timed_calls, 0)
    return {
      format: FORMAT,
      device: this.device,
      timing: typeof this.timing === 'string' ? this.timing : 'none',
      ...(typeof this.timing !== 'string' && {timing_note: this.timing.none}),
      wall_ms: performance.now() - this.started,
      kernel_ms: timed ? kernelMs : null,
      dispatches: this.dispatches,
      untimed_dispatches: this.dispatches - timed,
      submits: this.submits,
      reads: {...this.reads},
      syncs: {...this.syncs},
      writes: {...this.writes},
      pipelines: {...this.pipelines},
      host_between_submits_ms: {total: this.between.total, mean: this.between.count ? this.between.total / this.between.count : 0, max: this.between.max},
      kernels: kernels.map((k) => ({...k, share: timed && k.total_ms !== null ? k.total_ms / kernelMs : null})),
    }
  }

  /** The backend read or synced: write the JSON so far if the last snapshot is older than `snapshotMs`. */
  snapshot(): void {
    if (this.written || performance.now() - this.lastSnapshot < this.snapshotMs) return
    this.write(this.report())
  }

  /** Write the JSON and return the stderr summary. Once only. */
  finish(): string | undefined {
    if (this.written) return undefined
    const report = this.report()
    this.write(report)
    this.written = true
    return `${profileTable(report)}profile: written to ${this.path}\n`
  }

  /** Under a temporary name, then renamed: a reader never sees half a file. */
  private write(report: ProfileReport): void {
    const tmp = `${this.path}.tmp-${process.pid}`
    writeFileSync(tmp, `${JSON.stringify(report, null, 2)}\n`)
    renameSync(tmp, this.path)
    this.lastSnapshot = performance.now()
  }
}

export type ProfileReport = {
  format: string
  device: string
  timing: 'gpu-timestamps' | 'cpu' | 'none'
  timing_note?: string
  wall_ms: number
  kernel_ms: number | null
  dispatches: number
  untimed_dispatches: number
  submits: number
  reads: Waits
  syncs: Waits
  writes: {count: number; bytes: number}
  pipelines: {compiled: number; ms: number}
  host_between_submits_ms: {total: number; mean: number; max: number}
  kernels: {name: string; calls: number; timed_calls: number; total_ms: number | null; mean_us: number | null; share: number | null; variants: {params: string; calls: number; total_ms: number}[]}[]
}

const fixed = (x: number | null, digits: number): string => (x === null ? '-' : x.toFixed(digits))

/** The summary: kernels by total time (kernel, calls, total ms, mean us, % of kernel time), then the totals. */
export function profileTable(r: ProfileReport): string {
  const rows = r.kernels.map((k) => [k.name, String(k.calls), fixed(k.total_ms, 2), fixed(k.mean_us, 1), k.share === null ? '-' : (100 * k.share).toFixed(1)])
  const head = ['kernel', 'calls', 'total ms', 'mean us', '%']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  const timing = r.timing === 'none' ? `no kernel times (${r.timing_note})` : r.timing === 'cpu' ? 'kernel times: host time of each CPU kernel' : 'kernel times: GPU timestamps'
  const kernelTime = r.kernel_ms === null ? '' : `; kernels ${r.kernel_ms.toFixed(1)} ms (${((100 * r.kernel_ms) / r.wall_ms).toFixed(1)} % of wall)`
  const untimed = r.kernel_ms !== null && r.untimed_dispatches > 0 ? `, ${r.untimed_dispatches} untimed` : ''
  return [
    `profile: ${r.device}; ${timing}`,
    line(head),
    ...rows.map(line),
    `dispatches ${r.dispatches}${untimed} in ${r.submits} submits; wall ${r.wall_ms.toFixed(1)} ms${kernelTime}`,
    `reads ${r.reads.count} (waited ${r.reads.ms.toFixed(1)} ms); syncs ${r.syncs.count} (waited ${r.syncs.ms.toFixed(1)} ms); writes ${r.writes.count} (${(r.writes.bytes / 2 ** 20).toFixed(1)} MiB)`,
    `pipelines compiled ${r.pipelines.compiled} (${r.pipelines.ms.toFixed(1)} ms); host time between submits ${r.host_between_submits_ms.total.toFixed(1)} ms (mean ${r.host_between_submits_ms.mean.toFixed(2)}, max ${r.host_between_submits_ms.max.toFixed(1)})`,
    '',
  ].join('\n')
}

/**
 * The Profiler HYBRIDIZE_PROFILE asks for, or undefined when it is unset or empty. The file's folder
 * must exist, and a file already there is replaced only when it is a profile hybridize wrote.
 */
export function profilerFromEnv(env: NodeJS.ProcessEnv): Profiler | undefined {
  const value = env.HYBRIDIZE_PROFILE
  if (!value) return undefined
  const path = resolve(value)
  const usage = (why: string): HybridizeError => new HybridizeError(`HYBRIDIZE_PROFILE=${value}: ${why}`, {code: 'E_USAGE'})
  if (!existsSync(dirname(path)) || !statSync(dirname(path)).isDirectory()) throw usage(`no folder ${dirname(path)} to write it in`)
  if (existsSync(path) && !isProfile(path)) throw usage('a file that is not a hybridize profile is there; remove it or name another')
  return new Profiler(path)
}

function isProfile(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as {format?: unknown}).format === FORMAT
  } catch {
    return false
  }
}
