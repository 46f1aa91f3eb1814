import {cpus} from 'node:os'

/**
 * The hardware limits a benchmark figure is a fraction of. Figures from the vendors' sheets
 * (NVIDIA's H100 and H200 datasheets); CPU from cores x AVX2 FMA width x clock.
 */
export interface DevicePeak {
  name: string
  /** f32 FLOP/s on the units WGSL or JS can use (CUDA cores, not tensor cores). */
  f32Flops: number
  /** Memory bandwidth, bytes/s. */
  bandwidth: number
}

const H200: DevicePeak = {name: 'NVIDIA H200 (67 TFLOP/s f32, 4.8 TB/s)', f32Flops: 67e12, bandwidth: 4.8e12}

/** 2 FMA units x 8 f32 lanes x 2 FLOP per FMA = 32 FLOP/cycle/core with AVX2; ~15 GB/s for a small VM. */
function cpuPeak(): DevicePeak {
  const list = cpus()
  const ghz = (list[0]?.speed || 2600) / 1000
  const flops = list.length * 32 * ghz * 1e9
  return {name: `${list.length}-core CPU at ${ghz.toFixed(1)} GHz (${(flops / 1e9).toFixed(0)} GFLOP/s f32 AVX2, ~15 GB/s)`, f32Flops: flops, bandwidth: 15e9}
}

/** Peak for a backend, by its description (adapter name). llvmpipe runs on the CPU, so it has the CPU's peak. */
export function peakFor(description: string): DevicePeak {
  if (/h200/i.test(description)) return H200
  return cpuPeak()
}
