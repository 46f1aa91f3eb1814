// Run by test/cpu-matmul.test.ts in a child process: a helper thread dies while its slot still
// says ready. The next multi-threaded matmul must fail with a clear error instead of waiting for
// it for ever, and the ones after it must run on the calling thread.
import {tryMatmulFast} from '../../src/backend/cpu-matmul/matmul-fast.js'
import {gemmPoolForTests, startGemmWorkers} from '../../src/backend/cpu-matmul/worker-pool.js'

await startGemmWorkers(2)
await gemmPoolForTests.workers()[0].terminate()
gemmPoolForTests.setLostAfterMs(300)
const size = 200
const p = {batch: 1, m: size, n: size, k: size, transA: false, transB: false, broadcastB: false, bias: false}
const a = Float32Array.from({length: size * size}, (_, i) => (i % 7) - 3)
const run = (): Float32Array => {
  const out = new Float32Array(size * size)
  tryMatmulFast(p, [a, a], [out], {threads: 2})
  return out
}
try {
  run()
  console.log('no error')
} catch (error) {
  console.log(String((error as Error).message))
}
const c = run()
let want = 0
for (let k = 0; k < size; k++) want += a[k] * a[k * size]
console.log(c[0] === want ? 'then right on one thread' : `then wrong: ${c[0]} against ${want}`)
