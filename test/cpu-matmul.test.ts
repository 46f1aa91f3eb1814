import {spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {beforeAll, describe, expect, it} from 'vitest'
import {compileWasmModule, wasmModulePath} from '../scripts/build-wasm.mjs'
import {tryMatmulFast, type FastMatmulOptions} from '../src/backend/cpu-matmul/matmul-fast.js'
import {KC} from '../src/backend/cpu-matmul/pack.js'
import {splitGemm, type GemmArgs} from '../src/backend/cpu-matmul/wasm-gemm.js'
import {runGemm, startGemmWorkers} from '../src/backend/cpu-matmul/worker-pool.js'
import {matmul, matmulCpu, type MatmulParams} from '../src/kernels/matmul.js'
import {CpuBackend} from '../src/backend/cpu.js'
import {runKernel} from './helpers/backends.js'
import {expectClose} from './helpers/close.js'
import {Rng} from './helpers/random.js'

type Shape = Pick<MatmulParams, 'batch' | 'm' | 'n' | 'k'>

const TRANSPOSES = [[false, false], [false, true], [true, false], [true, true]] as const

function inputsFor(p: MatmulParams, rng: Rng): Float32Array[] {
  const a = rng.floats(p.batch * p.m * p.k)
  const b = rng.floats((p.broadcastB ? 1 : p.batch) * p.k * p.n)
  return p.bias ? [a, b, rng.floats(p.n)] : [a, b]
}

/** Run the fast path (which must take the problem) and the reference; compare. */
function checkFast(p: MatmulParams, seed: number, opts: FastMatmulOptions): void {
  const inputs = inputsFor(p, new Rng(seed))
  const fast = new Float32Array(p.batch * p.m * p.n).fill(NaN)
  const ref = new Float32Array(p.batch * p.m * p.n)
  expect(tryMatmulFast(p, inputs, [fast], opts), `fast path taken for ${JSON.stringify(p)}`).toBe(true)
  matmulCpu(p, inputs, [ref])
  // Summation order differs from the reference; rounding grows with k (inputs are in [-1, 1]).
  expectClose(fast, ref, `${JSON.stringify(p)} ${JSON.stringify(opts)} seed ${seed}`, {rtol: 1e-5, atol: 2e-7 * p.k + 1e-6})
}

function everyLayout(shape: Shape): MatmulParams[] {
  return TRANSPOSES.flatMap(([transA, transB]) =>
    [false, true].flatMap((bias) =>
      (shape.batch > 1 ? [false, true] : [false]).map((broadcastB) => ({...shape, transA, transB, bias, broadcastB})),
    ),
  )
}

describe('CPU fast matmul', () => {
  beforeAll(() => startGemmWorkers(3))

  it('ships the bytes that gemm.wat compiles to', async () => {
    const committed = readFileSync(wasmModulePath('gemm'), 'utf8')
    expect(committed).toBe(await compileWasmModule('gemm'))
  })

  it('agrees with the reference on random odd shapes, every transpose/bias/broadcast case, 1-3 threads', () => {
    const rng = new Rng(7)
    for (let trial = 0; trial < 6; trial++) {
      const shape: Shape = {batch: rng.int(1, 4), m: rng.int(3, 90), n: rng.int(1, 90), k: rng.int(1, 200)}
      // Keep each trial above the fast path's size floor so the comparison is never vacuous.
      shape.k = Math.max(shape.k, Math.ceil(4096 / (shape.m * shape.n)))
      everyLayout(shape).forEach((p, i) => checkFast(p, rng.int(0, 1e9), {threads: 1 + (i % 3)}))
    }
  })

  it('handles K blocks, row slabs and each way of splitting work between threads', () => {
    // Each parallel case is above the 128³ multiply-adds that make the fast path use helpers.
    const shapes: [Shape, number][] = [
      [{batch: 1, m: 301, n: 37, k: KC + 1}, 2], // rows split (more row panels), a 1-step last K block
      [{batch: 1, m: 12, n: 403, k: 2 * KC + 77}, 2], // columns split
      [{batch: 1, m: 261, n: 70, k: 120}, 3], // three threads, more than one 128-row slab each
      [{batch: 5, m: 40, n: 40, k: 300}, 2], // batch split
      [{batch: 2, m: 64, n: 64, k: 1}, 3], // k = 1
      [{batch: 1, m: 3, n: 1, k: 4096}, 2], // one column, fewest packed rows
    ]
    for (const [shape, threads] of shapes) {
      for (const p of everyLayout(shape)) checkFast(p, p.m * 31 + p.n, {threads})
    }
  })

  it('cuts problems larger than its memory budget into batch groups and row/column tiles', () => {
    const seed = 11
    // Two of these entries fit a 20k-float piece: batch groups of 2, 2, 1.
    for (const p of everyLayout({batch: 5, m: 30, n: 30, k: 50})) checkFast(p, seed, {threads: 2, pieceFloats: 20_000})
    // One entry needs ~70k floats, so each is tiled into rows x columns.
    for (const p of everyLayout({batch: 2, m: 150, n: 130, k: 100})) checkFast(p, seed, {threads: 2, pieceFloats: 20_000})
  })

  it('runs one or two rows of A through the row kernels, for every layout and odd tails', () => {
    const shapes: Shape[] = [{batch: 1, m: 1, n: 37, k: 301}, {batch: 3, m: 2, n: 6, k: 3}, {batch: 2, m: 1, n: 1, k: 1}, {batch: 1, m: 2, n: 9, k: 0}]
    for (const shape of shapes) {
      for (const p of everyLayout(shape)) checkFast(p, 5, {})
    }
  })

  it('leaves tiny products of three or more rows to the reference', () => {
    const p: MatmulParams = {batch: 1, m: 8, n: 8, k: 8, transA: false, transB: true, broadcastB: false, bias: false}
    expect(tryMatmulFast(p, [new Float32Array(64), new Float32Array(64)], [new Float32Array(64)])).toBe(false)
  })

  it('is what the CPU backend runs for the matmul kernel, for large and tiny problems alike', async () => {
    for (const shape of [{batch: 2, m: 70, n: 45, k: 33}, {batch: 1, m: 3, n: 4, k: 5}, {batch: 1, m: 1, n: 40, k: 200}]) {
      const p: MatmulParams = {...shape, transA: false, transB: true, broadcastB: false, bias: true}
      const inputs = inputsFor(p, new Rng(3))
      const [got] = await runKernel(new CpuBackend(), matmul, p, inputs, [p.batch * p.m * p.n])
      const want = new Float32Array(p.batch * p.m * p.n)
      matmulCpu(p, inputs, [want])
      expectClose(got, want, JSON.stringify(shape), {rtol: 1e-5, atol: 1e-5})
    }
  })

  it('splits one gemm call into disjoint parts that cover it', () => {
    const whole: GemmArgs = [0, 1000, 2000, 3, 100, 0, 50, 10, 4, 64, KC, 0, 10, 0, 4]
    const byBatch = splitGemm(whole, 2)
    expect(byBatch.map((j) => [j[0], j[1], j[2], j[3]])).toEqual([[0, 1000, 2000, 1], [100, 1000, 2050, 2]])
    const single = [...whole] as GemmArgs
    single[3] = 1
    const byRows = splitGemm(single, 3).map((j) => [j[11], j[12], j[13], j[14]])
    expect(byRows).toEqual([[0, 3, 0, 4], [3, 6, 0, 4], [6, 10, 0, 4]])
    const wide: GemmArgs = [0, 0, 0, 1, 0, 0, 0, 2, 5, 64, KC, 0, 2, 0, 5]
    expect(splitGemm(wide, 8).map((j) => [j[13], j[14]])).toEqual([[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]])
  })

  it('reports a failing gemm call from every thread and keeps working afterwards', () => {
    const outOfBounds: GemmArgs = [0x7ff00000, 0, 0, 1, 0, 0, 0, 4, 4, 8, KC, 0, 4, 0, 4]
    expect(() => runGemm(outOfBounds, 2)).toThrow(/matmul failed: .*out of bounds/)
    checkFast({batch: 1, m: 200, n: 200, k: 200, transA: false, transB: false, broadcastB: false, bias: true}, 1, {threads: 2})
  })

  it('fails clearly, instead of waiting for ever, when a helper thread has died, then runs on one thread', () => {
    const viteNode = fileURLToPath(new URL('../node_modules/vite-node/vite-node.mjs', import.meta.url))
    const child = fileURLToPath(new URL('helpers/matmul-lost-worker-child.ts', import.meta.url))
    const run = spawnSync(process.execPath, [viteNode, child], {encoding: 'utf8', timeout: 60_000})
    expect(run.stderr).toBe('')
    expect(run.stdout.trim().split('\n')).toEqual([
      'matmul failed: CPU worker 0 did not finish its part within 0.3 s; the CPU worker pool is retired and matmuls now run on one thread',
      'then right on one thread',
    ])
    expect(run.status).toBe(0)
  })

  it('lets the process exit with its workers idle', () => {
    const viteNode = fileURLToPath(new URL('../node_modules/vite-node/vite-node.mjs', import.meta.url))
    const child = fileURLToPath(new URL('helpers/matmul-exit-child.ts', import.meta.url))
    const run = spawnSync(process.execPath, [viteNode, child], {encoding: 'utf8', timeout: 60_000})
    expect(run.stderr).toBe('')
    expect(run.stdout.trim()).toBe('done')
    expect(run.status).toBe(0)
  })
})
