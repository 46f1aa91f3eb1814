import {copyFile, cp, mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {fromArray, scopeAsync} from '../../src/engine/tensor.js'
import {openCheckpoint} from '../../src/io/safetensors/checkpoint.js'
import {writeCheckpoint} from '../../src/io/safetensors/writer.js'
import {HybridModel} from '../../src/models/hybrid.js'
import {loadModel} from '../../src/models/load-model.js'
import {IDENTITY_GATE_BIAS} from '../../src/models/mixers/discrete-mamba2.js'
import type {MixerKind} from '../../src/models/mixers/mixer.js'
import type {SsmInit} from '../../src/rewrite/init-weights.js'
import {rewrite} from '../../src/rewrite/rewrite.js'
import {cpuBackend, webgpuBackend} from '../helpers/backends.js'
import {relativeError} from '../helpers/compare.js'
import {fixtureReference} from '../helpers/paths.js'
import {allHeads, writeHeadsJson} from './helpers.js'

const gpu = await webgpuBackend()
const cpu = cpuBackend()
let root: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-rewrite-'))
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

async function logitsOf(folder: string, backend: Backend, ids: Int32Array, shape: number[]): Promise<Float32Array> {
  const model = await loadModel(folder, backend)
  const logits = await scopeAsync(async () => model.forward(fromArray(backend, ids, shape)).logits.toFloat32())
  for (const w of model.weights.values()) w.dispose()
  return logits
}

async function reference(folder: string): Promise<{ids: Int32Array; shape: number[]; logits: Float32Array}> {
  const ref = await openCheckpoint(join(folder, 'reference.safetensors'))
  const out = {ids: (await ref.read('input_ids')).data as Int32Array, shape: [...ref.shape('input_ids')], logits: await ref.readF32('logits')}
  await ref.close()
  return out
}

async function rewriteWith(teacher: string, name: string, selected: [number, number][], mixer: MixerKind, dState?: number, mimoRank?: number, init?: SsmInit): Promise<string> {
  const cfg = JSON.parse(await readFile(join(teacher, 'config.json'), 'utf8'))
  const heads = await writeHeadsJson(root, teacher, cfg.num_hidden_layers, cfg.num_attention_heads, selected, `${name}.heads.json`)
  const out = join(root, name)
  await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: mixer, dState, mimoRank}, init, out, command: 'test'})
  return out
}

describe('rewrite keeping every head as attention is the teacher', () => {
  const teachers = [
    ['llama-tiny (GQA)', resolve(fixtureReference, 'llama-tiny')],
    ['phi-tiny (parallel block, partial rotary)', resolve(fixtureReference, 'phi-tiny')],
    ['llama-tied-headdim (biases, tied head)', resolve(fixtureReference, 'llama-tied-headdim')],
    ['llama-sharded-bf16 (bf16 shards)', resolve(fixtureReference, 'llama-sharded-bf16')],
  ]
  it.each(teachers)('%s: logits match transformers\' to 1e-4', async (label, teacher) => {
    const cfg = JSON.parse(await readFile(join(teacher, 'config.json'), 'utf8'))
    const out = await rewriteWith(teacher, `all-${label.split(' ')[0]}`, allHeads(cfg.num_hidden_layers, cfg.num_attention_heads), 'discrete-mamba2')
    const ref = await reference(teacher)
    const err = relativeError(await logitsOf(out, cpu, ref.ids, ref.shape), ref.logits)
    expect(err, `relative error ${err.toExponential(2)}`).toBeLessThan(1e-4)
  })
})

describe('rewrite keeping some heads', () => {
  const teacher = resolve(fixtureReference, 'llama-tiny')
  let hybridFolder: string

  beforeAll(async () => {
    // Layer 0 keeps heads 1 and 2 (a hybrid layer), layer 1 keeps none (a plain SSM layer).
    hybridFolder = await rewriteWith(teacher, 'some-heads', [[0, 2], [0, 1]], 'discrete-mamba2', 8)
  })

  it('writes the folder: config layout, weights, provenance, model card', async () => {
    const files = await readdir(hybridFolder)
    expect(files.sort()).toEqual(['README.md', 'config.json', 'generation_config.json', 'model.safetensors', 'provenance.json'])
    const config = JSON.parse(await readFile(join(hybridFolder, 'config.json'), 'utf8'))
    expect(config.model_type).toBe('hybridize-hybrid')
    expect(config.layers).toEqual([{attention_heads: [1, 2]}, {attention_heads: []}])
    expect(config.mixer).toMatchObject({type: 'discrete-mamba2', d_state: 8, n_v_heads: 4, n_qk_heads: 4, head_dim: 16})
    const provenance = JSON.parse(await readFile(join(hybridFolder, 'provenance.json'), 'utf8'))
    expect(provenance.teacher.id).toBe(teacher)
    expect(provenance.heads.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(provenance.heads.kept).toEqual([[0, 2], [0, 1]])
    expect(await readFile(join(hybridFolder, 'README.md'), 'utf8')).toMatch(/\| 0 \| hybrid \| 1, 2 \|/)
  })

  it('initialises kept heads, SSMs and adapters from the teacher', async () => {
    const t = await openCheckpoint(join(teacher, 'model.safetensors'))
    const s = await openCheckpoint(hybridFolder)
    const [C, D, N] = [64, 16, 8]
    const q = await t.readF32('model.layers.0.self_attn.q_proj.weight')
    const k = await t.readF32('model.layers.0.self_attn.k_proj.weight')
    const v = await t.readF32('model.layers.1.self_attn.v_proj.weight')
    const rows = (m: Float32Array, from: number, count: number) => Array.from(m.subarray(from * C, (from + count) * C))
    // Kept q rows of heads 1, 2; k rows of their key/value heads 0 and 1 (2 query heads per kv head).
    const keptQ = await s.readF32('model.layers.0.self_attn.q_proj.weight')
    expect(Array.from(keptQ)).toEqual([...rows(q, D, D), ...rows(q, 2 * D, D)])
    const keptK = await s.readF32('model.layers.0.self_attn.k_proj.weight')
    expect(Array.from(keptK)).toEqual([...rows(k, 0, D), ...rows(k, D, D)])
    expect(s.shape('model.layers.0.self_attn.o_proj.weight')).toEqual([C, 2 * D])
    // Layer 1's SSM: x from v (query head 3 reads kv head 1), B from k, C from q (first N rows per head).
    const inProj = await s.readF32('model.layers.1.ssm.in_proj.weight')
    expect(rows(inProj, 3 * D, D)).toEqual(rows(v, D, D))
    const q1 = await t.readF32('model.layers.1.self_attn.q_proj.weight')
    expect(rows(inProj, 4 * D + 4 * N + 3 * N, N)).toEqual(rows(q1, 3 * D, N))
    expect(Array.from(await s.readF32('model.layers.1.ssm.out_proj.weight'))).toEqual(Array.from(await t.readF32('model.layers.1.self_attn.o_proj.weight')))
    const bias = await s.readF32('model.layers.1.ssm.in_proj.bias')
    expect(bias[4 * D + 8 * N]).toBeCloseTo(IDENTITY_GATE_BIAS, 6)
    const conv = await s.readF32('model.layers.1.ssm.conv1d.weight')
    expect(Array.from(conv.subarray(0, 8))).toEqual([0, 0, 0, 1, 0, 0, 0, 1])
    const adapter = await s.readF32('model.layers.0.adapter.out_proj.weight')
    expect(adapter[0]).toBe(1)
    expect(adapter[1]).toBe(0)
    expect(s.has('model.layers.1.adapter.out_proj.weight')).toBe(false)
    expect(Array.from(await s.readF32('model.layers.1.mlp.down_proj.weight'))).toEqual(Array.from(await t.readF32('model.layers.1.mlp.down_proj.weight')))
    await Promise.all([t.close(), s.close()])
  })

  it('with --init random, SSM projections are random (seeded) and everything else is as with the attention init', async () => {
    const [a, b, other] = await Promise.all([
      rewriteWith(teacher, 'random-a', [[0, 2], [0, 1]], 'discrete-mamba2', 8, undefined, {kind: 'random', seed: 0}),
      rewriteWith(teacher, 'random-b', [[0, 2], [0, 1]], 'discrete-mamba2', 8, undefined, {kind: 'random', seed: 0}),
      rewriteWith(teacher, 'random-c', [[0, 2], [0, 1]], 'discrete-mamba2', 8, undefined, {kind: 'random', seed: 1}),
    ])
    const [fromAttention, ra, rb, rc] = await Promise.all([hybridFolder, a, b, other].map((f) => openCheckpoint(f)))
    const inProj = 'model.layers.1.ssm.in_proj.weight'
    const random = await ra.readF32(inProj)
    expect(Array.from(await rb.readF32(inProj))).toEqual(Array.from(random))
    expect(Array.from(await rc.readF32(inProj))).not.toEqual(Array.from(random))
    expect(Array.from(random)).not.toEqual(Array.from(await fromAttention.readF32(inProj)))
    // x, B and C rows: uniform in ±1/sqrt(C), C = 64 (rounded to the teacher's dtype); the z rows stay zero.
    const [C, D, N] = [64, 16, 8]
    const xbc = random.subarray(0, (4 * D + 8 * N) * C)
    expect(Math.max(...xbc.map(Math.abs))).toBeLessThanOrEqual(1 / 8 + 1e-3)
    expect(Math.max(...xbc.map(Math.abs))).toBeGreaterThan(0.1)
    for (const name of ['model.layers.1.ssm.conv1d.weight', 'model.layers.1.ssm.in_proj.bias', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.1.mlp.down_proj.weight']) {
      expect(Array.from(await ra.readF32(name)), name).toEqual(Array.from(await fromAttention.readF32(name)))
    }
    expect(JSON.parse(await readFile(join(a, 'provenance.json'), 'utf8')).ssm_init).toEqual({kind: 'random', seed: 0})
    expect(await readFile(join(a, 'README.md'), 'utf8')).toMatch(/projections at random, seed 0/)
    await Promise.all([fromAttention, ra, rb, rc].map((c) => c.close()))
  })

  it('loads and runs, the same on WebGPU as on the CPU, and survives a write / read round trip', async () => {
    const ref = await reference(teacher)
    const model = await loadModel(hybridFolder, cpu)
    expect(model).toBeInstanceOf(HybridModel)
    expect((model as HybridModel).layerKind(0)).toBe('hybrid')
    expect((model as HybridModel).layerKind(1)).toBe('ssm')
    const onCpu = await logitsOf(hybridFolder, cpu, ref.ids, ref.shape)
    expect(onCpu.every(Number.isFinite)).toBe(true)
    // A student, not the teacher: logits differ, but not wildly (embeddings, MLPs and LM head are the teacher's).
    const fromTeacher = relativeError(onCpu, ref.logits)
    expect(fromTeacher).toBeGreaterThan(1e-3)
    expect(fromTeacher).toBeLessThan(2)
    if (gpu) {
      const err = relativeError(await logitsOf(hybridFolder, gpu, ref.ids, ref.shape), onCpu)
      expect(err, `WebGPU vs CPU relative error ${err.toExponential(2)}`).toBeLessThan(1e-4)
    }
    // Read every tensor back through the validating reader and write it again, sharded this time.
    const ckpt = await openCheckpoint(hybridFolder)
    const tensors = await Promise.all(ckpt.names().map(async (name) => ({name, dtype: 'F32' as const, shape: [...ckpt.shape(name)], data: await ckpt.readF32(name)})))
    await ckpt.close()
    const again = join(root, 'round-trip')
    const written = await writeCheckpoint(again, tensors, {maxShardBytes: 100_000})
    expect(written.files.length).toBeGreaterThan(2)
    await copyFile(join(hybridFolder, 'config.json'), join(again, 'config.json'))
    expect(Array.from(await logitsOf(again, cpu, ref.ids, ref.shape))).toEqual(Array.from(onCpu))
  })

  it('copies the teacher\'s tokenizer files', async () => {
    const withTokenizer = join(root, 'teacher-with-tokenizer')
    await cp(teacher, withTokenizer, {recursive: true})
    await writeFile(join(withTokenizer, 'tokenizer.json'), '{"model": {}}')
    await writeFile(join(withTokenizer, 'tokenizer_config.json'), '{}')
    const out = await rewriteWith(withTokenizer, 'tokenizer-copy', [[0, 0]], 'discrete-mamba2')
    expect(await readFile(join(out, 'tokenizer.json'), 'utf8')).toBe('{"model": {}}')
    expect((await readdir(out)).includes('tokenizer_config.json')).toBe(true)
  })

  it('leaves no output and no temporary folder when writing fails midway', async () => {
    const headsPath = await writeHeadsJson(root, teacher, 2, 4, [[0, 0]], 'midway.heads.json')
    const out = join(root, 'midway')
    // A shard limit the writer refuses: config.json is already in the temporary folder by then.
    await expect(rewrite({teacherFolder: teacher, headsPath, choice: {kind: 'selected'}, mixer: {kind: 'discrete-mamba2'}, out, maxShardBytes: -1, command: 'test'})).rejects.toThrow(/maxShardBytes/)
    expect((await readdir(root)).filter((f) => f.startsWith('midway') && !f.endsWith('.json'))).toEqual([])
  })

  it('with the mamba2 mixer (MambaInLlama init) too', async () => {
    const out = await rewriteWith(teacher, 'some-heads-mamba2', [[1, 3]], 'mamba2')
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))
    expect(config.mixer).toMatchObject({type: 'mamba2', n_heads: 4, x_heads: 2, b_groups: 2, c_groups: 4, d_state: 16})
    const ref = await reference(teacher)
    const onCpu = await logitsOf(out, cpu, ref.ids, ref.shape)
    expect(onCpu.every(Number.isFinite)).toBe(true)
    if (gpu) expect(relativeError(await logitsOf(out, gpu, ref.ids, ref.shape), onCpu)).toBeLessThan(1e-4)
  })

  it('with the mamba3 mixer (MIMO rank 2) too', async () => {
    const out = await rewriteWith(teacher, 'some-heads-mamba3', [[0, 0], [1, 1]], 'mamba3', 8, 2)
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))
    expect(config.mixer).toMatchObject({type: 'mamba3', n_heads: 4, ngroups: 4, mimo_rank: 2, d_state: 8, n_rotary_angles: 2})
    const ckpt = await openCheckpoint(out)
    expect(Array.from(await ckpt.readF32('model.layers.0.ssm.mimo_x')).every((v) => v === 0.5)).toBe(true)
    await ckpt.close()
    const ref = await reference(teacher)
    const onCpu = await logitsOf(out, cpu, ref.ids, ref.shape)
    expect(onCpu.every(Number.isFinite)).toBe(true)
    if (gpu) expect(relativeError(await logitsOf(out, gpu, ref.ids, ref.shape), onCpu)).toBeLessThan(1e-4)
  })
})
