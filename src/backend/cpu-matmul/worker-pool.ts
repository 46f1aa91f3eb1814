import {MessageChannel, receiveMessageOnPort, Worker, type MessagePort} from 'node:worker_threads'
import {GEMM_ARG_COUNT, splitGemm, wasmGemm, type GemmArgs} from './wasm-gemm.js'

/**
 * One gemm call is cut into CHUNKS_PER_THREAD parts per thread, which the threads claim from a
 * shared counter. On an idle machine that splits the work evenly; when another process holds a
 * core, a helper that is not running takes fewer parts instead of holding everyone up (with one
 * fixed part per thread, two threads measured slower than one on this busy 2-core machine).
 */
const CHUNKS_PER_THREAD = 4
const MAX_WORKERS = 64
const MAX_CHUNKS = (MAX_WORKERS + 1) * CHUNKS_PER_THREAD

/** Int32 words shared by all threads: [next unclaimed chunk, chunk count], then the chunks' gemm arguments. */
const NEXT = 0
const COUNT = 1
const TABLE = 2
/** Int32 words of one worker's slot: [posted job number, finished job number, ready]. */
const SLOT_WORDS = 3
const POSTED = 0
const FINISHED = 1
const READY = 2

/**
 * Inline (eval) CommonJS so the same code runs from src/ under vitest and from dist/ without a
 * worker file to locate. The worker marks itself ready, then for each posted job number claims
 * chunks until none is left and answers with that number (negated, plus a message on `errors`,
 * when a call threw).
 */
const workerSource = `
const {workerData} = require('node:worker_threads')
const {module, memory, jobs, slots, slot, errors} = workerData
const job = new Int32Array(jobs)
const ctl = new Int32Array(slots, slot * ${SLOT_WORDS * 4}, ${SLOT_WORDS})
let gemm, startError
try {
  gemm = new WebAssembly.Instance(module, {env: {memory}}).exports.gemm
} catch (error) {
  startError = error
}
Atomics.store(ctl, ${READY}, 1)
for (let seen = 0;;) {
  Atomics.wait(ctl, ${POSTED}, seen)
  seen = Atomics.load(ctl, ${POSTED})
  let status = seen
  try {
    if (startError) throw startError
    for (let c; (c = Atomics.add(job, ${NEXT}, 1)) < job[${COUNT}];) {
      gemm(...job.subarray(${TABLE} + c * ${GEMM_ARG_COUNT}, ${TABLE} + (c + 1) * ${GEMM_ARG_COUNT}))
    }
  } catch (error) {
    errors.postMessage(String(error && error.stack || error))
    status = -seen
  }
  Atomics.store(ctl, ${FINISHED}, status)
  Atomics.notify(ctl, ${FINISHED})
}`

interface GemmWorker {
  worker: Worker
  slot: Int32Array
  errors: MessagePort
}

const job = new Int32Array(new SharedArrayBuffer((TABLE + MAX_CHUNKS * GEMM_ARG_COUNT) * 4))
const slots = new Int32Array(new SharedArrayBuffer(MAX_WORKERS * SLOT_WORDS * 4))
const workers: GemmWorker[] = []
let jobNumber = 0
/**
 * How long a helper may take over its parts of one call before it counts as lost. A part is
 * milliseconds of work; a helper that has died (its thread gone while its slot still says ready)
 * would otherwise leave the calling thread in Atomics.wait for ever, where no timeout of a test
 * runner or a signal handler can run.
 */
let lostAfterMs = 60_000
/** Set after a helper was lost: the pool is retired and every call runs on the calling thread. */
let retired = false

function spawn(index: number): GemmWorker {
  const {module, memory} = wasmGemm()
  const {port1, port2} = new MessageChannel()
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: {module, memory, jobs: job.buffer, slots: slots.buffer, slot: index, errors: port2},
    transferList: [port2],
  })
  // Idle workers sit in Atomics.wait forever; they must not keep the process alive.
  worker.unref()
  port1.unref()
  return {worker, slot: slots.subarray(index * SLOT_WORDS, (index + 1) * SLOT_WORDS), errors: port1}
}

/** The pooled workers that `threads` threads use besides this one, spawned if missing. */
function helpersFor(threads: number): GemmWorker[] {
  if (retired) return []
  const wanted = Math.min(threads, MAX_WORKERS + 1) - 1
  while (workers.length < wanted) workers.push(spawn(workers.length))
  return workers.slice(0, wanted)
}

/** Start the workers for `threads` threads and resolve once all can take jobs (benchmarks, tests). */
export async function startGemmWorkers(threads: number): Promise<void> {
  const helpers = helpersFor(threads)
  while (helpers.some(({slot}) => Atomics.load(slot, READY) !== 1)) {
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * Run one gemm call over up to `threads` threads: this one plus pooled workers that have started
 * (a worker still booting is not waited for). Returns when every chunk is done. Blocks the
 * calling thread (Atomics.wait), which Node allows on its main thread.
 */
export function runGemm(whole: GemmArgs, threads: number): void {
  const helpers = helpersFor(threads).filter(({slot}) => Atomics.load(slot, READY) === 1)
  if (helpers.length === 0) {
    wasmGemm().run(...whole)
    return
  }
  const chunks = splitGemm(whole, (1 + helpers.length) * CHUNKS_PER_THREAD)
  chunks.forEach((args, c) => job.set(args, TABLE + c * GEMM_ARG_COUNT))
  Atomics.store(job, COUNT, chunks.length)
  Atomics.store(job, NEXT, 0)
  const number = ++jobNumber
  for (const {slot} of helpers) {
    Atomics.store(slot, POSTED, number)
    Atomics.notify(slot, POSTED)
  }
  const failures: string[] = []
  try {
    for (let c; (c = Atomics.add(job, NEXT, 1)) < chunks.length; ) wasmGemm().run(...chunks[c])
  } catch (error) {
    failures.push(`main thread: ${String(error)}`)
  }
  // Even after a failure, wait for every helper: a running one still writes into shared memory.
  const lostAt = Date.now() + lostAfterMs
  helpers.forEach(({slot, errors}, w) => {
    for (let done = Atomics.load(slot, FINISHED); Math.abs(done) !== number; done = Atomics.load(slot, FINISHED)) {
      if (Atomics.wait(slot, FINISHED, done, 1000) === 'timed-out' && Date.now() > lostAt) {
        retire()
        throw new Error(`matmul failed: CPU worker ${w} did not finish its part within ${lostAfterMs / 1000} s; the CPU worker pool is retired and matmuls now run on one thread`)
      }
    }
    if (slot[FINISHED] < 0) failures.push(`worker ${w}: ${receiveMessageOnPort(errors)?.message ?? 'no message'}`)
  })
  if (failures.length > 0) throw new Error(`matmul failed: ${failures.join('; ')}`)
}

/** Stop every helper, for good: they may still hold parts of the lost call. */
function retire(): void {
  retired = true
  for (const {worker} of workers.splice(0)) void worker.terminate()
}

/** Tests: the pooled workers, and a shorter time before a helper counts as lost. */
export const gemmPoolForTests = {
  workers: (): readonly Worker[] => workers.map(({worker}) => worker),
  setLostAfterMs: (ms: number): void => void (lostAfterMs = ms),
}
