import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {CpuBackend} from '../../src/backend/cpu.js'
import {linear} from '../../src/engine/ops.js'
import {withDecoding, withPrecision, type Precision} from '../../src/engine/precision.js'
import {fromArray, scopeAsync} from '../../src/engine/tensor.js'
import {generate} from '../../src/generate/generate.js'
import type {KvCacheDtype} from '../../src/models/decode-cache.js'
import type {HybridModel} from '../../src/models/hybrid.js'
import {loadModel, type LoadedModel} from '../../src/models/load-model.js'
import {hybridSequenceMemory, teacherSequenceMemory} from '../../src/models/memory.js'
import {TeacherModel} from '../../src/models/teacher.js'
import {rewrite} from '../../src/rewrite/rewrite.js'
import {tensorCoreMultiple, tensorCoreSupport} from '../../src/kernels/matmul-f16.js'
import {tensorCoreCpu, webgpuBackend} from '../helpers/backends.js'
import {relativeError} from '../helpers/compare.js'
import {repoRoot} from '../helpers/paths.js'
import {Rng} from '../helpers/random.js'
import {writeHeadsJson} from '../rewrite/helpers.js'

/**
 * Decoding with mixed-precision linear layers (generate's `precision`): f16 weights, f32 sums. The
 * fixture teacher and a hybrid rewritten from it keeping 2 of its 48 heads, on a short prompt. Their
 * weights are bf16 values (the checkpoint's, and the SSM's made from the attention's), which f16
 * holds exactly: each is moved by up to 2^-10 of itself off that grid (loaded as f32) so that the
 * f16 copy rounds as it would a trained f32 model's.
 */
const teacherFolder = resolve(repoRoot, 'fixtures/llama-tiny')
const prompt = [4094, 312, 1999, 47, 5, 803, 2710]
const NEW_TOKENS = 12
let root: string
let hybridFolder: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-decode-precision-'))
  const heads = await writeHeadsJson(root, teacherFolder, 6, 8, [[2, 1], [4, 6]])
  hybridFolder = join(root, 'hybrid')
  await rewrite({teacherFolder, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: 'discrete-mamba2', dState: 8}, out: hybridFolder, command: 'test'})
})

afterAll(() => rm(root, {recursive: true, force: true}))

interface Decoded {
  tokens: number[]
  /** Logits of every position of prompt + tokens, by one cached forward at the same precision. */
  logits: Float32Array
}

interface Settings {
  precision?: Precision
  kvCacheDtype?: KvCacheDtype
}

async function decode(model: LoadedModel, {precision = 'f32', kvCacheDtype}: Settings): Promise<Decoded> {
  const [sample] = await generate(model, prompt, {maxNewTokens: NEW_TOKENS, n: 1, seed: 1, temperature: 0, topP: 1, eosTokenIds: [], precision, kvCacheDtype})
  const ids = [...prompt, ...sample.tokens]
  const cache = model.newCache(1, ids.length, {kvDtype: kvCacheDtype})
  try {
    const logits = await scopeAsync(async () => withPrecision(precision, () => model.forwardCached(fromArray(model.backend, Int32Array.from(ids), [1, ids.length]), cache)).logits.toFloat32())
    return {tokens: sample.tokens, logits}
  } finally {
    cache.dispose()
  }
}

async function open(backend: Backend, which: 'teacher' | 'hybrid'): Promise<LoadedModel> {
  const model = await loadModel(which === 'teacher' ? teacherFolder : hybridFolder, backend, {dtype: 'f32'})
  const rng = new Rng(which === 'teacher' ? 1 : 2)
  for (const w of model.weights.values()) {
    const values = await w.toFloat32()
    const moves = rng.floats(values.length, 2 ** -10)
    backend.write(w.storage, values.map((x, i) => x * (1 + moves[i])))
  }
  return model
}

/** The names (and matmul's B dtype) of the kernels `fn` runs on `backend`. */
async function kernelsRun(backend: Backend, fn: () => Promise<unknown>): Promise<string[]> {
  const names: string[] = []
  const run = backend.run.bind(backend)
  backend.run = (kernel, params, inputs, outputs) => {
    const bDtype = (params as {bDtype?: string}).bDtype
    names.push(bDtype ? `${kernel.name}:${bDtype}` : kernel.name)
    return run(kernel, params, inputs, outputs)
  }
  try {
    await fn()
  } finally {
    backend.run = run
  }
  return names
}

describe('decoding with mixed-precision linear layers', () => {
  for (const which of ['teacher', 'hybrid'] as const) {
    it(`${which}: greedy tokens of f32 decoding; logits within 2e-3 (relative) of f32's, not equal (CPU)`, async () => {
      const model = await open(new CpuBackend(), which)
      const [f32, mixed] = [await decode(model, {}), await decode(model, {precision: 'mixed'})]
      expect(mixed.tokens).toEqual(f32.tokens)
      // Measured: 2.1e-4 (teacher), 5.6e-4 (hybrid).
      const err = relativeError(mixed.logits, f32.logits)
      expect(err).toBeGreaterThan(1e-5)
      expect(err).toBeLessThan(2e-3)
      for (const w of model.weights.values()) w.dispose()
    })
  }

  it('a cached forward of a few rows reads the weight as f16 (made once), a bf16 weight as it is; many rows, or no cache, round both operands', async () => {
    const backend = new CpuBackend()
    const model = await open(backend, 'teacher')
    const forward = (rows: number, cached = true): Promise<unknown> =>
      scopeAsync(async () => {
        const ids = fromArray(backend, new Int32Array(rows).fill(7), [1, rows])
        const cache = model.newCache(1, rows)
        try {
          return await withPrecision('mixed', () => (cached ? model.forwardCached(ids, cache) : model.forward(ids))).logits.toFloat32()
        } finally {
          cache.dispose()
        }
      })
    const first = await kernelsRun(backend, () => forward(3))
    // 6 layers of 7 linear layers and the LM head, each weight's copy packed once.
    expect(first.filter((k) => k === 'matmul:f16')).toHaveLength(6 * 7 + 1)
    expect(first.filter((k) => k === 'pack_f16_exact')).toHaveLength(6 * 7 + 1)
    expect(first).not.toContain('round_f16')
    const again = await kernelsRun(backend, () => forward(3))
    expect(again).not.toContain('pack_f16_exact')
    const many = await kernelsRun(backend, () => forward(65))
    expect(many.filter((k) => k === 'round_f16').length).toBeGreaterThan(6 * 7)
    expect(many).not.toContain('matmul:f16')
    // A forward without a cache (scoring, a frozen teacher in training) rounds as training's autocast does.
    expect(await kernelsRun(backend, () => forward(3, false))).not.toContain('matmul:f16')
    for (const w of model.weights.values()) w.dispose()
    const bf16 = await loadModel(teacherFolder, backend, {dtype: 'bf16'})
    const cache = bf16.newCache(1, 1)
    const step = await kernelsRun(backend, () => scopeAsync(async () => withPrecision('mixed', () => bf16.forwardCached(fromArray(backend, new Int32Array([7]), [1, 1]), cache)).logits.toFloat32()))
    cache.dispose()
    expect(step.filter((k) => k === 'matmul:bf16')).toHaveLength(6 * 7 + 1)
    expect(step).not.toContain('pack_f16_exact')
    expect(step).not.toContain('widen_half')
    for (const w of bf16.weights.values()) w.dispose()
  })

  it('with tensor cores: a few rows read the f16 copy, many rows run matmul_f16 on the same copy where the weight fills whole tiles (else a padded one)', async () => {
    const backend = tensorCoreCpu()
    const tile = tensorCoreMultiple(tensorCoreSupport(backend)!)
    const rng = new Rng(3)
    const K = tile
    for (const [n, copies] of [[2 * tile, 1], [tile + 8, 2]] as const) {
      const w = rng.floats(n * K, 0.1)
      const weight = fromArray(backend, w, [n, K])
      // Decoding: kernels and the product of `rows` rows, as a cached forward runs its linear layers.
      const product = async (rows: number): Promise<{kernels: string[]; y: Float32Array; x: Float32Array}> => {
        const x = rng.floats(rows * K)
        let y: Float32Array = new Float32Array(0)
        const kernels = await kernelsRun(backend, async () => {
          y = await scopeAsync(async () => withDecoding(() => withPrecision('mixed', () => linear(fromArray(backend, x, [rows, K]), weight))).toFloat32())
        })
        return {kernels, y, x}
      }
      const few = await product(3)
      expect(few.kernels.filter((k) => k === 'matmul:f16')).toHaveLength(1)
      expect(few.kernels).not.toContain('matmul_f16')
      const many = await product(tile + 1)
      expect(many.kernels).toContain('matmul_f16')
      // The activation is packed on every call; the weight once per layout (one shared, or a padded second).
      expect(few.kernels.filter((k) => k === 'pack_f16_exact').length + many.kernels.filter((k) => k === 'pack_f16_exact').length - 1).toBe(copies)
      for (const {x, y, rows} of [{...few, rows: 3}, {...many, rows: tile + 1}]) {
        const want = Float32Array.from({length: rows * n}, (_, i) => {
          let sum = 0
          for (let k = 0; k < K; k++) sum += x[Math.floor(i / n) * K + k] * w[(i % n) * K + k]
          return sum
        })
        expect(relativeError(y, want)).toBeLessThan(2e-3)
      }
      weight.dispose()
    }
  })

  it('WebGPU (llvmpipe) gives the CPU\'s mixed-precision tokens and logits (to 1e-4 relative)', async () => {
    const gpu = await webgpuBackend()
    if (!gpu) return
    for (const which of ['teacher', 'hybrid'] as const) {
      const [cpuModel, gpuModel] = [await open(new CpuBackend(), which), await open(gpu, which)]
      const [onCpu, onGpu] = [await decode(cpuModel, {precision: 'mixed'}), await decode(gpuModel, {precision: 'mixed'})]
      expect(onGpu.tokens).toEqual(onCpu.tokens)
      expect(relativeError(onGpu.logits, onCpu.logits)).toBeLessThan(1e-4)
      for (const w of [...cpuModel.weights.values(), ...gpuModel.weights.values()]) w.dispose()
    }
  })
})

describe('decoding with an f16 key/value cache', () => {
  for (const which of ['teacher', 'hybrid'] as const) {
    it(`${which}: greedy tokens of the f32 cache; logits within 1e-3 (relative) of its, not equal; half its bytes, as the memory model counts them (CPU)`, async () => {
      const model = await open(new CpuBackend(), which)
      const [f32, f16] = [await decode(model, {}), await decode(model, {kvCacheDtype: 'f16'})]
      expect(f16.tokens).toEqual(f32.tokens)
      // Measured: 2.8e-4 (teacher), 4.1e-5 (hybrid).
      const err = relativeError(f16.logits, f32.logits)
      expect(err).toBeGreaterThan(1e-6)
      expect(err).toBeLessThan(1e-3)
      const [wide, half] = [model.newCache(2, 10), model.newCache(2, 10, {kvDtype: 'f16'})]
      expect(half.bytesByKind().kv * 2).toBe(wide.bytesByKind().kv)
      expect(half.bytesByKind().ssm).toBe(wide.bytesByKind().ssm)
      // The memory model (what inspect and the decode sweep count) gives the cache's bytes, keys and values at 2.
      const perSequence = model instanceof TeacherModel ? teacherSequenceMemory(model.config, 10, 4, 2) : hybridSequenceMemory((model as HybridModel).config, 10, 4, 2)
      expect(2 * perSequence.kvCacheBytes).toBe(half.bytesByKind().kv)
      expect(2 * (perSequence.ssmStateBytes + perSequence.convStateBytes)).toBe(half.bytesByKind().ssm)
      for (const c of [wide, half]) c.dispose()
      for (const w of model.weights.values()) w.dispose()
    })
  }

  it('WebGPU (llvmpipe) gives the CPU\'s tokens and logits (to 1e-4 relative), with mixed linears too', async () => {
    const gpu = await webgpuBackend()
    if (!gpu) return
    for (const which of ['teacher', 'hybrid'] as const) {
      const [cpuModel, gpuModel] = [await open(new CpuBackend(), which), await open(gpu, which)]
      for (const settings of [{kvCacheDtype: 'f16'}, {kvCacheDtype: 'f16', precision: 'mixed'}] as Settings[]) {
        const [onCpu, onGpu] = [await decode(cpuModel, settings), await decode(gpuModel, settings)]
        expect(onGpu.tokens).toEqual(onCpu.tokens)
        expect(relativeError(onGpu.logits, onCpu.logits)).toBeLessThan(1e-4)
      }
      for (const w of [...cpuModel.weights.values(), ...gpuModel.weights.values()]) w.dispose()
    }
  })
})
