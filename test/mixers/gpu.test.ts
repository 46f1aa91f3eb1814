import {describe, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {backward, withTape} from '../../src/engine/autograd.js'
import {narrow} from '../../src/engine/layout-ops.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import {createMixer, type MixerConfig} from '../../src/models/mixers/create.js'
import type {SsmMixer} from '../../src/models/mixers/mixer.js'
import {referenceBackend, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {Rng} from '../helpers/random.js'
import {FORM_CASES, randomMixerWeights, weightTensors} from './helpers.js'

/** Each mixer on WebGPU against the CPU: chunked and materialised forward with every gradient, and decoding steps. */
const gpu = await webgpuBackend()
const cpu = referenceBackend()
const TOL = {rtol: 2e-4, atol: 2e-5}

type Form = (m: SsmMixer, u: Tensor) => Tensor
const FORMS: [string, Form][] = [
  ['chunked', (m, u) => m.forward(u).out],
  ['materialised', (m, u) => m.forwardMaterialized(u)],
  ['mixing matrix', (m, u) => m.mixingMatrix(u)],
]

async function run(backend: Backend, cfg: MixerConfig, form: Form, seedRng: number): Promise<Float32Array[]> {
  const rng = new Rng(seedRng)
  const weights = weightTensors(backend, randomMixerWeights(rng, cfg))
  const [Bn, T] = [2, 19]
  const u = fromArray(backend, rng.floats(Bn * T * cfg.hiddenSize), [Bn, T, cfg.hiddenSize])
  const params = [u, ...weights.values()]
  for (const p of params) p.requiresGrad = true
  const {result: out} = withTape(() => form(createMixer(cfg, weights, backend), u))
  const seed = fromArray(backend, new Rng(99).floats(out.numel), out.shape)
  const grads = backward(out, params, {seed})
  return Promise.all([out, ...grads].map((t) => t.toFloat32()))
}

async function steps(backend: Backend, cfg: MixerConfig): Promise<Float32Array[]> {
  const rng = new Rng(5)
  const mixer = createMixer(cfg, weightTensors(backend, randomMixerWeights(rng, cfg)), backend)
  const [Bn, T, C] = [2, 5, cfg.hiddenSize]
  const u = fromArray(backend, rng.floats(Bn * T * C), [Bn, T, C])
  const prefix = mixer.forward(narrow(u, 1, 0, 3), {returnState: true})
  const outs = [prefix.out]
  let state = prefix.state
  for (let t = 3; t < T; t++) {
    const r = mixer.step(narrow(u, 1, t, 1).reshape([Bn, C]), state)
    outs.push(r.out)
    state = r.state
  }
  return Promise.all(outs.map((t) => t.toFloat32()))
}

describe.skipIf(!gpu)('mixers: WebGPU vs CPU', () => {
  for (const [label, cfg] of FORM_CASES) {
    it.each(FORMS)(`${label}: %s form and its gradients`, async (formLabel, form) => {
      const want = await run(cpu, cfg, form, 3)
      const got = await run(gpu!, cfg, form, 3)
      want.forEach((w, i) => expectClose(got[i], w, `${formLabel} ${i === 0 ? 'output' : `gradient ${i - 1}`}`, TOL))
    })

    it(`${label}: prefill then decoding steps`, async () => {
      const want = await steps(cpu, cfg)
      const got = await steps(gpu!, cfg)
      want.forEach((w, i) => expectClose(got[i], w, `output ${i}`, TOL))
    })
  }
})
