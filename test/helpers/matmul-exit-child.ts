// Run by test/cpu-matmul.test.ts in a child process: after a matmul on worker threads, the
// process must exit by itself (idle workers are unref'd).
import {tryMatmulFast} from '../../src/backend/cpu-matmul/matmul-fast.js'
import {startGemmWorkers} from '../../src/backend/cpu-matmul/worker-pool.js'

await startGemmWorkers(2)
const size = 200
const p = {batch: 1, m: size, n: size, k: size, transA: false, transB: false, broadcastB: false, bias: false}
const ran = tryMatmulFast(p, [new Float32Array(size * size), new Float32Array(size * size)], [new Float32Array(size * size)], {threads: 2})
console.log(ran ? 'done' : 'fast path not taken')
