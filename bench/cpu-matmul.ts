// CPU matmul: the WASM SIMD fast path on 1 and all threads against the scalar reference.
//   npx vite-node bench/cpu-matmul.ts [sizes...]     (default 256 512 1024)
// Prints median and best ms of repeated runs, GFLOP/s (of the median), the fraction of the CPU's
// f32 peak, and GFLOP per CPU-second summed over all threads of this process. Best and the CPU-time
// figure are there for shared machines: other processes' load adds wall time, not CPU time.
import {availableParallelism} from 'node:os'
import {tryMatmulFast} from '../src/backend/cpu-matmul/matmul-fast.js'
import {startGemmWorkers} from '../src/backend/cpu-matmul/worker-pool.js'
import {randomArray} from './cases.js'
import {peakFor} from './peaks.js'
import {matmulCpu, type MatmulParams} from '../src/kernels/matmul.js'

/** The reference is too slow to time above this many multiply-adds. */
const MAX_REFERENCE_MACS = 512 ** 3

/** Median and best wall ms, and mean CPU ms (all threads), over runs lasting about `seconds` (at least 3). */
function time(run: () => void, seconds: number): {median: number; best: number; cpu: number} {
  run()
  const samples: number[] = []
  const deadline = performance.now() + seconds * 1000
  const cpu0 = process.cpuUsage()
  while (samples.length < 3 || (performance.now() < deadline && samples.length < 100)) {
    const t0 = performance.now()
    run()
    samples.push(performance.now() - t0)
  }
  const {user, system} = process.cpuUsage(cpu0)
  samples.sort((a, b) => a - b)
  return {median: samples[Math.floor(samples.length / 2)], best: samples[0], cpu: (user + system) / 1000 / samples.length}
}

const sizes = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [256, 512, 1024]
const threads = availableParallelism()
const peak = peakFor('cpu')
await startGemmWorkers(threads)

console.log(`peak: ${peak.name}`)
console.log(['size', 'path', 'median ms', 'best ms', 'GFLOP/s', 'of peak', 'GFLOP/cpu-s'].map((h) => h.padStart(12)).join(''))
for (const size of sizes) {
  const p: MatmulParams = {batch: 1, m: size, n: size, k: size, transA: false, transB: false, broadcastB: false, bias: false}
  const inputs = [randomArray(size * size, 1), randomArray(size * size, 2)]
  const out = [new Float32Array(size * size)]
  const paths: [string, () => void][] = [
    ['wasm 1 thr', () => tryMatmulFast(p, inputs, out, {threads: 1})],
    [`wasm ${threads} thr`, () => tryMatmulFast(p, inputs, out, {threads})],
  ]
  if (size ** 3 <= MAX_REFERENCE_MACS) paths.unshift(['reference', () => matmulCpu(p, inputs, out)])
  for (const [name, run] of paths) {
    const {median, best, cpu} = time(run, 2)
    const gflops = (2 * size ** 3) / (median * 1e6)
    const percent = (gflops * 1e9 * 100) / peak.f32Flops
    const cells = [`${size}³`, name, median.toFixed(2), best.toFixed(2), gflops.toFixed(1), `${percent.toFixed(1)}%`, ((2 * size ** 3) / (cpu * 1e6)).toFixed(1)]
    console.log(cells.map((c) => c.padStart(12)).join(''))
  }
}
