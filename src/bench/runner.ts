import type {Backend} from '../backend/backend.js'
import type {DevicePeak} from './peaks.js'

/** One benchmark case on one backend: `run` enqueues the work once; inputs are made up front. */
export interface BenchInstance {
  run(): void
  /** The sizes this instance runs at, for the report. */
  shape: string
  /** Floating-point operations of one run (0 for memory-bound kernels). */
  flops: number
  /** Bytes one run must move at least (inputs read + outputs written). */
  bytes: number
  dispose(): void
}

export interface BenchCase {
  name: string
  /** `large` sizes are for a real GPU; `small` ones keep CPU and llvmpipe runs short. */
  make(backend: Backend, size: 'small' | 'large'): BenchInstance
}

export interface BenchResult {
  name: string
  ms: number
  gflops: number
  gbps: number
  /** max(FLOP fraction, bandwidth fraction) of the device peak: how close to the roofline. */
  fractionOfPeak: number
}

/** Median time of repeated runs (after a warm-up that also compiles pipelines). */
export async function timeCase(backend: Backend, c: BenchCase, size: 'small' | 'large', peak: DevicePeak, minSeconds = 0.5): Promise<BenchResult> {
  const inst = c.make(backend, size)
  try {
    inst.run()
    await backend.sync()
    const samples: number[] = []
    const deadline = performance.now() + minSeconds * 1000
    // Several runs per sample so dispatch overhead is amortised as it is in a real forward pass.
    while (samples.length < 3 || (performance.now() < deadline && samples.length < 50)) {
      const reps = 3
      const t0 = performance.now()
      for (let i = 0; i < reps; i++) inst.run()
      await backend.sync()
      samples.push((performance.now() - t0) / reps)
    }
    samples.sort((a, b) => a - b)
    const ms = samples[Math.floor(samples.length / 2)]
    const gflops = inst.flops / (ms * 1e6)
    const gbps = inst.bytes / (ms * 1e6)
    return {name: `${c.name} ${inst.shape}`, ms, gflops, gbps, fractionOfPeak: Math.max((gflops * 1e9) / peak.f32Flops, (gbps * 1e9) / peak.bandwidth)}
  } finally {
    inst.dispose()
    await backend.sync()
  }
}

export function formatResults(device: string, peak: DevicePeak, results: BenchResult[]): string {
  const rows = results.map((r) => [r.name, r.ms.toFixed(3), r.gflops.toFixed(1), r.gbps.toFixed(1), `${(r.fractionOfPeak * 100).toFixed(1)}%`])
  const header = ['case', 'ms', 'GFLOP/s', 'GB/s', 'of peak']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  return [`device: ${device}`, `peak:   ${peak.name}`, line(header), ...rows.map(line)].join('\n')
}
