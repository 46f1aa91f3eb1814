import {MessageChannel, receiveMessageOnPort, Worker, type MessagePort} from 'node:worker_threads'
import {GEMM_ARG_COUNT, splitGemm, wasmGemm, type GemmArgs} from './wasm-gemm.js'

/** Int32 words of one worker's control slot: [posted job number, finished job number, ready, ...args]. */
const SLOT_WORDS = 3 + GEMM_ARG_COUNT
const POSTED = 0
const FINISHED = 1
const READY = 2
const ARGS = 3

/**
 * Inline (eval) CommonJS so the same code runs from src/ under vitest and from dist/ without a
 * worker file to locate. The worker marks itself ready, blocks on its slot, runs one gemm call per
 * posted job number, and answers with that number (negated, plus a message on `errors`, when the
 * call threw).
 */
const workerSource = `
const {workerData} = require('node:worker_threads')
const {module, memory, control, slot, errors} = workerData
const ctl = new Int32Array(control, slot * ${SLOT_WORDS * 4}, ${SLOT_WORDS})
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
    gemm(...ctl.subarray(${ARGS}))
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

const MAX_WORKERS = 64
const control = new Int32Array(new SharedArrayBuffer(MAX_WORKERS * SLOT_WORDS * 4))
const workers: GemmWorker[] = []
let jobNumber = 0

function spawn(index: number): GemmWorker {
  const {module, memory} = wasmGemm()
  const {port1, port2} = new MessageChannel()
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: {module, memory, control: control.buffer, slot: index, errors: port2},
    transferList: [port2],
  })
  // Idle workers sit in Atomics.wait forever; they must not keep the process alive.
  worker.unref()
  port1.unref()
  return {worker, slot: control.subarray(index * SLOT_WORDS, (index + 1) * SLOT_WORDS), errors: port1}
}

/** The pooled workers that `threads` threads use besides this one, spawned if missing. */
function helpersFor(threads: number): GemmWorker[] {
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
 * Run one gemm call split over up to `threads` threads: this one plus pooled workers that have
 * started (a worker still booting is not waited for; this thread takes its share). Returns when
 * every part is done. Blocks the calling thread (Atomics.wait), which Node allows on its main thread.
 */
export function runGemm(whole: GemmArgs, threads: number): void {
  const ready = helpersFor(threads).filter(({slot}) => Atomics.load(slot, READY) === 1)
  const [own, ...others] = splitGemm(whole, 1 + ready.length)
  const job = ++jobNumber
  others.forEach((args, w) => {
    const {slot} = ready[w]
    slot.set(args, ARGS)
    Atomics.store(slot, POSTED, job)
    Atomics.notify(slot, POSTED)
  })
  const failures: string[] = []
  try {
    wasmGemm().run(...own)
  } catch (error) {
    failures.push(`main thread: ${String(error)}`)
  }
  // Even after a failure, wait for every helper: a running one still writes into shared memory.
  others.forEach((_, w) => {
    const {slot, errors} = ready[w]
    for (let done = Atomics.load(slot, FINISHED); Math.abs(done) !== job; done = Atomics.load(slot, FINISHED)) {
      Atomics.wait(slot, FINISHED, done)
    }
    if (slot[FINISHED] < 0) failures.push(`worker ${w}: ${receiveMessageOnPort(errors)?.message ?? 'no message'}`)
  })
  if (failures.length > 0) throw new Error(`matmul failed: ${failures.join('; ')}`)
}
