/**
 * Times the CPU attention forward: the reference loop against the fast path, on the shapes
 * find-heads runs (batch 40, t = 125) and one longer sequence (batch 4, t = 512), hq = hkv = 8, d = 16.
 *
 *   npx vite-node bench/cpu-attention.ts
 */
import {tryAttentionFast} from '../src/backend/cpu-attention/attention-fast.js'
import {attentionCpu, type AttentionParams} from '../src/kernels/attention.js'

function randomFloats(n: number): Float32Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.random() * 2 - 1
  return out
}

/** Median milliseconds of `reps` calls after one warm-up call. */
function time(fn: () => void, reps: number): number {
  fn()
  const ms: number[] = []
  for (let r = 0; r < reps; r++) {
    const start = performance.now()
    fn()
    ms.push(performance.now() - start)
  }
  return ms.sort((a, b) => a - b)[Math.floor(reps / 2)]
}

const shapes = [
  {batch: 40, t: 125, hq: 8, hkv: 8, d: 16},
  {batch: 4, t: 512, hq: 8, hkv: 8, d: 16},
]
for (const {batch, t, hq, hkv, d} of shapes) {
  const p: AttentionParams = {batch, tq: t, tk: t, hq, hkv, d, scale: 1 / Math.sqrt(d), headMask: false, returnProbs: false}
  const inputs = [randomFloats(batch * t * hq * d), randomFloats(batch * t * hkv * d), randomFloats(batch * t * hkv * d)]
  const out = [new Float32Array(batch * t * hq * d)]
  const reference = time(() => attentionCpu(p, inputs, out), 5)
  const fast = time(() => {
    if (!tryAttentionFast(p, inputs, out)) throw new Error('fast path declined')
  }, 21)
  console.log(`batch ${batch} t ${t} hq ${hq} hkv ${hkv} d ${d}: reference ${reference.toFixed(1)} ms, fast ${fast.toFixed(2)} ms (${(reference / fast).toFixed(1)}x)`)
}
