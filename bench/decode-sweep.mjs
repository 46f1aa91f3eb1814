#!/usr/bin/env node
// Decode speed and memory against batch size and context length, for model folders (bench/decode-sweep.ts):
// one JSON line per (model, context, batch) on stdout, progress on stderr.
// Usage (after npm run build):
//   node .gpu/decode-sweep.mjs NAME=FOLDER... [--device webgpu|cpu] [--contexts 1024,2048,...,32768] [--max-batch 256]
//     [--min-batch 1] [--steps 16] [--seconds 400] [--memory-gib GiB] [--prefill-tokens 16384] [--first 8192] [--cell-seconds 4]
//     [--dtype f32|auto] [--precision f32|mixed] [--kv-cache-dtype f32|f16]
// --seconds bounds the whole sweep (model loading included), shared evenly by the models, time one leaves going to
// the next; within a model the largest batch that fits runs first at the --first contexts, then at the others, then
// halvings of each down to batch 1 (bench/decode-sweep.ts#planCells), so a budget leaves out small cells.
// --cell-seconds caps one cell's timed steps (at least 2 run). --dtype auto: a teacher keeps a bf16 checkpoint's matrices
// at 2 bytes, as `hybridize generate --dtype auto` and the transformers peer do (the other models run in f32); each
// line says its model's `weights_dtype`. --precision mixed: linear layers on f16 weights with f32 sums, and
// --kv-cache-dtype f16: keys and values cached at 2 bytes, as `hybridize generate` takes them; each line says both.
// --memory-gib: the device's memory (WebGPU does not report it; nvidia-smi does); the sweep fills at most 90 % of it.
import {totalmem} from 'node:os'
import {performance} from 'node:perf_hooks'
import {parseArgs} from 'node:util'
import {createBackend} from '../src/backend/device.js'
import {WebGpuBackend} from '../src/backend/webgpu.js'
import {sweepModel} from './decode-sweep.js'
import {PRECISIONS} from '../src/engine/precision.js'
import {KV_CACHE_DTYPES} from '../src/models/decode-cache.js'
import {loadModel} from '../src/models/load-model.js'

const {values: args, positionals} = parseArgs({
  allowPositionals: true,
  options: {
    device: {type: 'string', default: 'webgpu'},
    contexts: {type: 'string', default: '1024,2048,4096,8192,16384,32768'},
    'max-batch': {type: 'string', default: '256'},
    'min-batch': {type: 'string', default: '1'},
    steps: {type: 'string', default: '16'},
    seconds: {type: 'string', default: '400'},
    'memory-gib': {type: 'string'},
    'prefill-tokens': {type: 'string', default: '16384'},
    first: {type: 'string', default: '8192'},
    'cell-seconds': {type: 'string', default: '4'},
    dtype: {type: 'string', default: 'f32'},
    precision: {type: 'string', default: 'f32'},
    'kv-cache-dtype': {type: 'string', default: 'f32'},
  },
})
const fail = (message) => {
  process.stderr.write(`decode-sweep: ${message}\n`)
  process.exit(2)
}
const positive = (flag) => {
  const v = Number(args[flag])
  if (!Number.isFinite(v) || v <= 0) fail(`--${flag} must be a positive number, got '${args[flag]}'`)
  return v
}
if (positionals.length === 0) fail('give at least one model as NAME=FOLDER')
const models = positionals.map((p) => (p.includes('=') ? p.split(/=(.*)/s).slice(0, 2) : [p.split('/').filter(Boolean).at(-1), p]))
const integers = (flag) => {
  const list = args[flag].split(',').map(Number)
  if (list.some((c) => !Number.isInteger(c) || c < 1)) fail(`--${flag} must be positive integers, got '${args[flag]}'`)
  return list
}
const choice = (flag, options) => {
  if (!options.includes(args[flag])) fail(`--${flag} must be ${options.join(' or ')}, got '${args[flag]}'`)
  return args[flag]
}
choice('dtype', ['f32', 'auto'])
const precision = choice('precision', PRECISIONS)
const kvCacheDtype = choice('kv-cache-dtype', KV_CACHE_DTYPES)
const contexts = integers('contexts')
const first = integers('first')
const backend = await createBackend(args.device)
const gpu = backend instanceof WebGpuBackend
if (gpu && args['memory-gib'] === undefined) fail('--memory-gib is needed on WebGPU, which does not report the device memory')
const memoryBytes = args['memory-gib'] === undefined ? totalmem() / 2 : positive('memory-gib') * 2 ** 30
const log = (line) => process.stderr.write(`${line}\n`)
log(`device: ${backend.description}`)

const start = performance.now()
const budget = positive('seconds') * 1000
for (const [i, [name, folder]] of models.entries()) {
  // An even share of what is left, so a model that finishes early gives its time to the next.
  const deadline = performance.now() + (start + budget - performance.now()) / (models.length - i)
  log(`${name}: loading ${folder}`)
  let weightsDtype = 'f32'
  const model = await loadModel(folder, backend, {dtype: args.dtype, onDType: (d) => (weightsDtype = d)})
  await sweepModel(model, name, {
    contexts,
    maxBatch: positive('max-batch'),
    minBatch: positive('min-batch'),
    steps: positive('steps'),
    deviceBytes: 0.9 * memoryBytes,
    prefillTokens: positive('prefill-tokens'),
    deadline,
    first,
    cellSeconds: positive('cell-seconds'),
    precision,
    kvCacheDtype,
  }, (line) => process.stdout.write(`${JSON.stringify({...line, weights_dtype: weightsDtype, device: backend.description})}\n`), log)
  for (const w of model.weights.values()) w.dispose()
  if (gpu) await backend.trimPool()
}
log(`decode-sweep: ${((performance.now() - start) / 1000).toFixed(0)} s`)
// Ends the device (and writes HYBRIDIZE_PROFILE's file when it is set).
backend.destroy()
