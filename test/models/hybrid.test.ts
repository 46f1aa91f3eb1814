import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {backward, withTape} from '../../src/engine/autograd.js'
import {mul, rmsnorm, sum} from '../../src/engine/ops.js'
import {fromArray, scopeAsync, type Tensor} from '../../src/engine/tensor.js'
import {openCheckpoint} from '../../src/io/safetensors/checkpoint.js'
import {parseTeacherConfig} from '../../src/models/config.js'
import type {HybridConfig} from '../../src/models/hybrid-config.js'
import {expectedHybridWeights} from '../../src/models/hybrid-weights.js'
import {HybridModel} from '../../src/models/hybrid.js'
import {loadModel} from '../../src/models/load-model.js'
import type {MixerKind} from '../../src/models/mixers/mixer.js'
import {rewrite} from '../../src/rewrite/rewrite.js'
import {studentMixerConfig} from '../../src/rewrite/student-config.js'
import {cpuBackend, webgpuBackend} from '../helpers/backends.js'
import {expectClose} from '../helpers/close.js'
import {relativeError} from '../helpers/compare.js'
import {fixtureReference} from '../helpers/paths.js'
import {Rng} from '../helpers/random.js'
import {gradCheck, type GradInput} from '../ssm/helpers.js'
import {writeHeadsJson} from '../rewrite/helpers.js'

/** HybridModel: other teacher families, forward options, and gradients through a hybrid layer. */
const gpu = await webgpuBackend()
const cpu = cpuBackend()
let root: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-hybrid-'))
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

async function hybridOf(teacher: string, name: string, selected: [number, number][], kind: MixerKind, dState?: number): Promise<string> {
  const cfg = JSON.parse(await readFile(join(teacher, 'config.json'), 'utf8'))
  const heads = await writeHeadsJson(root, teacher, cfg.num_hidden_layers, cfg.num_attention_heads, selected, `${name}.json`)
  const out = join(root, name)
  await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind, dState}, out, command: 'test'})
  return out
}

async function inputIds(teacher: string): Promise<{ids: Int32Array; shape: number[]}> {
  const ref = await openCheckpoint(join(teacher, 'reference.safetensors'))
  const out = {ids: (await ref.read('input_ids')).data as Int32Array, shape: [...ref.shape('input_ids')]}
  await ref.close()
  return out
}

describe('hybrids of other teachers', () => {
  it.each([
    ['phi-tiny (parallel block, biases, partial rotary), mamba2', resolve(fixtureReference, 'phi-tiny'), 'mamba2', undefined],
    ['llama-tied-headdim (head dim 24, biases, tied), discrete-mamba2 with d_state 32 > head dim', resolve(fixtureReference, 'llama-tied-headdim'), 'discrete-mamba2', 32],
  ] as const)('%s: loads and runs, WebGPU as the CPU', async (label, teacher, kind, dState) => {
    const folder = await hybridOf(teacher, label.split(' ')[0] + kind, [[0, 1], [1, 0], [1, 3]], kind, dState)
    const {ids, shape} = await inputIds(teacher)
    const run = async (backend: typeof cpu | NonNullable<typeof gpu>) => {
      const model = await loadModel(folder, backend)
      return scopeAsync(async () => model.forward(fromArray(backend, ids, shape)).logits.toFloat32())
    }
    const onCpu = await run(cpu)
    expect(onCpu.every(Number.isFinite)).toBe(true)
    if (gpu) expect(relativeError(await run(gpu), onCpu)).toBeLessThan(1e-4)
  })
})

describe('HybridModel forward options', () => {
  const teacher = resolve(fixtureReference, 'llama-tiny')
  let model: HybridModel
  let ids: Tensor

  beforeAll(async () => {
    // Layer 0 keeps heads 0 and 3 (hybrid), layer 1 keeps none (SSM).
    model = (await loadModel(await hybridOf(teacher, 'options', [[0, 0], [0, 3]], 'discrete-mamba2', 8), cpu)) as HybridModel
    const input = await inputIds(teacher)
    ids = fromArray(cpu, input.ids.slice(0, 20), [1, 20])
  })

  it('hidden states, mixing matrices per SSM layer and the kept heads\' attention', async () => {
    const out = model.forward(ids, {hiddenStates: true, mixingMatrices: true, attentions: true})
    expect(out.hiddenStates).toHaveLength(3)
    expect(out.mixingMatrices!.map((m) => m?.shape)).toEqual([[1, 4, 20, 20], [1, 4, 20, 20]])
    expect(out.attentions![0]!.shape).toEqual([1, 2, 20, 20])
    expect(out.attentions![1]).toBeUndefined()
    const probs = await out.attentions![0]!.toFloat32()
    expect(probs.slice(20 * 5, 20 * 6).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5)
    // Layer 1's matrix is its mixer's on the normed input of layer 1.
    const x = rmsnorm(out.hiddenStates![1], model.weights.get('model.layers.1.input_layernorm.weight')!, model.config.teacher.normEps)
    expectClose(await out.mixingMatrices![1]!.toFloat32(), await model.mixers[1]!.mixingMatrix(x).toFloat32(), 'layer 1 mixing matrix')
  })

  it('head masks ablate kept heads', async () => {
    const base = await model.forward(ids).logits.toFloat32()
    const ones = await model.forward(ids, {headMasks: [fromArray(cpu, Float32Array.from([1, 1]), [2])]}).logits.toFloat32()
    expect(Array.from(ones)).toEqual(Array.from(base))
    const ablated = await model.forward(ids, {headMasks: [fromArray(cpu, Float32Array.from([0, 1]), [2])]}).logits.toFloat32()
    expect(relativeError(ablated, base)).toBeGreaterThan(1e-4)
  })

  it('trains: the adapter, kept heads and SSMs get gradients', async () => {
    const params = [...model.weights.values()]
    for (const p of params) p.requiresGrad = true
    const {result: loss} = withTape(() => {
      const logits = model.forward(ids).logits
      return sum(mul(logits, logits))
    })
    const grads = backward(loss, params)
    for (const p of params) p.requiresGrad = false
    const names = [...model.weights.keys()]
    for (const name of ['model.layers.0.adapter.out_proj.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.ssm.in_proj.weight', 'model.layers.1.ssm.D']) {
      const g = await grads[names.indexOf(name)].toFloat32()
      expect(g.some((v) => v !== 0), `${name} has a gradient`).toBe(true)
      expect(g.every(Number.isFinite), `${name} gradient is finite`).toBe(true)
    }
  })
})

describe('a hybrid layer\'s gradients match finite differences (CPU, float64)', () => {
  it('SSM + kept heads + adapter, for the input and the weights of every part', async () => {
    const teacherJson = {model_type: 'llama', hidden_size: 8, intermediate_size: 6, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 4, vocab_size: 5, rms_norm_eps: 1e-5}
    const teacher = parseTeacherConfig(teacherJson)
    const cfg: HybridConfig = {teacher, teacherJson, mixer: studentMixerConfig(teacher, {kind: 'discrete-mamba2', dState: 3}), adapterEps: 1e-5, layers: [{attentionHeads: [1]}]}
    const rng = new Rng(31)
    const shapes = [...expectedHybridWeights(cfg)].filter(([name]) => name.startsWith('model.layers.0.'))
    const inputs: GradInput[] = [
      {name: 'h', shape: [1, 5, 8], data: Float64Array.from(rng.floats(40))},
      ...shapes.map(([name, shape]) => {
        const n = shape.reduce((a, b) => a * b, 1)
        const base = /norm|\.D$/.test(name) ? 1 : 0
        return {name, shape, data: Float64Array.from(rng.floats(n, 0.4), (v) => base + v), grad: /adapter|q_proj|in_proj.weight|input_layernorm|up_proj/.test(name)}
      }),
    ]
    await gradCheck(rng, inputs, (ts) => {
      const weights = new Map(inputs.slice(1).map((inp, i) => [inp.name, ts[i + 1]]))
      const model = new HybridModel(cfg, weights, ts[0].backend)
      return model.block(0, ts[0], model.ropeTables(5)).out
    }, {samples: 6})
  })
})
