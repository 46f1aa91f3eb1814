import type {Backend} from '../src/backend/backend.js'
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
  /** Runs per timed sample (default 3): fewer for long cases, more for short ones. */
  reps?: number
  /** Time from the host even where a GPU timer exists (runs of more dispatches than one submit holds). */
  hostTimer?: boolean
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
  /** 'gpu': timestamps around the kernels (WebGPU with timestamp-query); 'host': wall clock to sync. */
  timer: 'gpu' | 'host'
  gflops: number
  gbps: number
  /** max(FLOP fraction, bandwidth fraction) of the device peak: how close to the roofline. */
  fractionOfPeak: number
}

/** What `timeCase` needs beyond the Backend interface: the WebGPU backend's kernel timer. */
interface GpuTimer {
  gpuTime(work: () => void): Promise<number | undefined>
}

/**
 * Median time of one run over repeated samples, after a warm-up that also compiles pipelines.
 * On a backend with a GPU timer a sample is the GPU time of `reps` runs recorded into one pass
 * (host dispatch cost excluded, as CUDA events exclude PyTorch's); otherwise wall clock to sync.
 */
export async function timeCase(backend: Backend, c: BenchCase, size: 'small' | 'large', peak: DevicePeak, minSeconds = 0.5): Promise<BenchResult> {
  const inst = c.make(backend, size)
  try {
    inst.run()
    await backend.sync()
    const timer = 'gpuTime' in backend ? (backend as Backend & GpuTimer) : undefined
    const samples: number[] = []
    let useGpu = Boolean(timer) && !inst.hostTimer
    const deadline = performance.now() + minSeconds * 1000
    while (samples.length < 3 || (performance.now() < deadline && samples.length < 50)) {
      const reps = inst.reps ?? 3
      const repeat = (): void => {
        for (let i = 0; i < reps; i++) inst.run()
      }
      let sample = useGpu ? await timer!.gpuTime(repeat) : undefined
      if (useGpu && sample === undefined) {
        // More dispatches than one submit holds: time everything from the host instead.
        useGpu = false
        samples.length = 0
      }
      if (sample === undefined) {
        const t0 = performance.now()
        repeat()
        await backend.sync()
        sample = performance.now() - t0
      }
      samples.push(sample / reps)
    }
    samples.sort((a, b) => a - b)
    const ms = samples[Math.floor(samples.length / 2)]
    const gflops = inst.flops / (ms * 1e6)
    const gbps = inst.bytes / (ms * 1e6)
    return {name: [c.name, inst.shape].filter(Boolean).join(' '), ms, timer: useGpu ? 'gpu' : 'host', gflops, gbps, fractionOfPeak: Math.max((gflops * 1e9) / peak.f32Flops, (gbps * 1e9) / peak.bandwidth)}
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
