/**
 * Do the CPU and WebGPU backends agree on this machine's GPU? Runs a hybrid student (and its
 * teacher) forward on both, for several batch and sequence shapes, and compares the teacher's
 * logits, the student's hidden state after every layer and its logits, and each SSM mixer alone on
 * the same input (chunked scan, and on the GPU against its own materialised form). `npm test`
 * proves the kernels on llvmpipe; this is the check for a real GPU, whose compiler may differ (it
 * found the chunked scan wrong on the H200 while every test passed on llvmpipe). Bundle it for the
 * GPU machine as scripts/distill-h200.sh does, or run it here:
 *
 *   npx vite-node scripts/check-backends.ts -- <student folder> [--teacher fixtures/phi-tiny] [--shapes 1x64,16x256]
 *
 * Prints one line per comparison; exits 1 when any value differs by more than 1e-4 of its tensor's scale.
 */
import {parseArgs} from 'node:util'
import {createBackend} from '../src/backend/device.js'
import {noGrad} from '../src/engine/autograd.js'
import {fromArray, type Tensor} from '../src/engine/tensor.js'
import {loadHybrid} from '../src/models/hybrid.js'
import {loadTeacher} from '../src/models/load.js'
import {Random} from '../src/util/random.js'

const {values: args, positionals} = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  allowPositionals: true,
  options: {teacher: {type: 'string', default: 'fixtures/phi-tiny'}, shapes: {type: 'string', default: '1x64,4x64,16x256,1x512'}},
})
const studentDir = positionals[0]
if (!studentDir) throw new Error('usage: check-backends <student folder> [--teacher DIR] [--shapes BxT,...]')

const backends = {cpu: await createBackend('cpu'), gpu: await createBackend('webgpu')}
const students = {cpu: await loadHybrid(studentDir, backends.cpu), gpu: await loadHybrid(studentDir, backends.gpu)}
const teachers = {cpu: await loadTeacher(args.teacher!, backends.cpu), gpu: await loadTeacher(args.teacher!, backends.gpu)}
const sides = ['cpu', 'gpu'] as const
let failures = 0

const values = async (t: Tensor): Promise<Float64Array> => Float64Array.from((await t.toArray()) as ArrayLike<number>)

/**
 * Reports how far b is from a; counts a failure when any value is off by more than 1e-4 of the
 * tensor's largest magnitude (plus 1e-4). Relative to the tensor, not to each value: a value that
 * cancels to near zero from large terms (an undistilled student's mixers reach the hundreds) may
 * differ in its own digits between summation orders; a wrong kernel is off by the tensor's scale.
 */
function compare(label: string, a: Float64Array, b: Float64Array): void {
  let scale = 0
  for (const x of a) scale = Math.max(scale, Math.abs(x))
  const tolerance = 1e-4 * (1 + scale)
  let worst = 0
  let off = 0
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i])
    if (!(d <= worst)) worst = d
    if (!(d <= tolerance)) off++
  }
  if (off > 0) failures++
  console.log(`${off > 0 ? 'DIFFERS' : 'agrees '} ${label}: max |difference| ${worst.toExponential(2)} (largest value ${scale.toExponential(2)}), ${off} of ${a.length} values off`)
}

for (const shape of args.shapes!.split(',')) {
  const [B, T] = shape.split('x').map(Number)
  const random = new Random(7)
  const ids = Int32Array.from({length: B * T}, () => random.int(students.cpu.vocabSize))
  const got = {} as Record<(typeof sides)[number], {teacher: Float64Array; logits: Float64Array; hidden: Float64Array[]}>
  for (const side of sides) {
    const input = () => fromArray(backends[side], ids, [B, T])
    const out = noGrad(() => students[side].forward(input(), {hiddenStates: true}))
    got[side] = {
      teacher: await values(noGrad(() => teachers[side].forward(input()).logits)),
      logits: await values(out.logits),
      hidden: await Promise.all(out.hiddenStates!.map(values)),
    }
  }
  compare(`${shape} teacher logits`, got.cpu.teacher, got.gpu.teacher)
  got.cpu.hidden.forEach((h, l) => compare(`${shape} student hidden state ${l}`, h, got.gpu.hidden[l]))
  compare(`${shape} student logits`, got.cpu.logits, got.gpu.logits)
  const hiddenSize = students.cpu.config.teacher.hiddenSize
  for (let l = 0; l < students.cpu.mixers.length; l++) {
    if (!students.cpu.mixers[l]) continue
    const out: Partial<Record<'cpu' | 'gpu' | 'gpuMaterialised', Float64Array>> = {}
    for (const side of sides) {
      const u = noGrad(() => students[side].inputNorm(l, fromArray(backends[side], Float32Array.from(got.cpu.hidden[l]), [B, T, hiddenSize])))
      out[side] = await values(noGrad(() => students[side].mixers[l]!.forward(u).out))
      if (side === 'gpu' && T <= 256) out.gpuMaterialised = await values(noGrad(() => students.gpu.mixers[l]!.forwardMaterialized(u)))
    }
    compare(`${shape} mixer ${l}, chunked scan`, out.cpu!, out.gpu!)
    if (out.gpuMaterialised) compare(`${shape} mixer ${l}, GPU chunked against GPU materialised`, out.gpuMaterialised, out.gpu!)
  }
}
console.log(failures === 0 ? 'the backends agree' : `${failures} comparisons differ`)
process.exit(failures === 0 ? 0 : 1)
