#!/usr/bin/env node
// Runs every transformers reference through the teacher forward pass on the chosen device and prints
// the relative errors: the correctness half of a GPU-machine run (npm test covers CPU and llvmpipe).
//   node bench/check-references.js [--device webgpu] [reference folders...]
import {readdirSync, existsSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {createBackend} from '../dist/backend/device.js'
import {SafetensorsFile} from '../dist/io/safetensors/reader.js'
import {loadTeacher} from '../dist/models/load.js'
import {forwardIds} from '../dist/models/run-forward.js'

const args = process.argv.slice(2)
const device = args.includes('--device') ? args[args.indexOf('--device') + 1] : 'webgpu'
const roots = ['fixtures/reference']
const folders = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--device')
const list = folders.length ? folders : roots.filter(existsSync).flatMap((r) => readdirSync(r).map((n) => join(r, n))).filter((f) => existsSync(join(f, 'reference.safetensors')) && !f.includes('mamba'))

const rel = (a, b) => {
  let n = 0, d = 0
  for (let i = 0; i < b.length; i++) { n += (a[i] - b[i]) ** 2; d += b[i] ** 2 }
  return Math.sqrt(n / d)
}

const backend = await createBackend(device)
console.log(`device: ${backend.description}`)
let worst = 0
for (const folder of list) {
  const ref = await SafetensorsFile.open(join(folder, 'reference.safetensors'))
  const ids = await ref.read('input_ids')
  const model = await loadTeacher(resolve(folder), backend)
  const out = await forwardIds(model, backend, ids.data, ids.shape)
  const err = rel(out.logits.data, await ref.readF32('logits'))
  worst = Math.max(worst, err)
  console.log(`${folder}: logits relative error ${err.toExponential(2)}`)
  await ref.close()
}
backend.destroy()
console.log(worst < 1e-4 ? `all under 1e-4 (worst ${worst.toExponential(2)})` : `FAIL: worst ${worst.toExponential(2)}`)
process.exit(worst < 1e-4 ? 0 : 1)
