import {mkdir, mkdtemp, open, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Dtype} from '../../src/io/safetensors/dtypes.js'
import {encodeHeader} from '../../src/io/safetensors/header.js'
import {parseTeacherConfig} from '../../src/models/config.js'
import {hybridConfigToJson, type HybridConfig} from '../../src/models/hybrid-config.js'
import {expectedHybridWeights} from '../../src/models/hybrid-weights.js'
import {expectedTeacherWeights} from '../../src/models/teacher-weights.js'
import {studentMixerConfig} from '../../src/rewrite/student-config.js'
import {layoutFor} from '../../src/rewrite/select-heads.js'
import {runCli} from '../helpers/cli.js'

/**
 * `inspect` on a hybrid of a Llama-3.2-1B-shaped teacher keeping 2% of its heads (10 of 512, the
 * per-layer placement of retrieval-aware distillation's architecture_10) with d_state 16. The
 * checkpoint is a sparse file: real headers, no data, since inspect reads headers only.
 */
const LLAMA_32_1B = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16,
  num_attention_heads: 32, num_key_value_heads: 8, head_dim: 64, vocab_size: 128256, rms_norm_eps: 1e-5, tie_word_embeddings: true,
  max_position_embeddings: 131072, rope_theta: 500000, torch_dtype: 'bfloat16',
  rope_scaling: {rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192},
}
const KEPT: [number, number][] = [[9, 25], [4, 4], [10, 26], [0, 20], [8, 20], [8, 19], [8, 16], [7, 22], [10, 20], [5, 5]]

let root: string

async function sparseCheckpoint(folder: string, shapes: Map<string, number[]>, dtype: Dtype): Promise<void> {
  let offset = 0
  const placed = [...shapes].map(([name, shape]) => {
    const byteLength = shape.reduce((a, b) => a * b, 1) * 2
    const entry = {name, dtype, shape, offset, byteLength}
    offset += byteLength
    return entry
  })
  const header = encodeHeader(placed, {format: 'pt'})
  const file = await open(join(folder, 'model.safetensors'), 'w')
  await file.write(header)
  await file.truncate(header.byteLength + offset)
  await file.close()
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-inspect-'))
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

describe('inspect: memory per sequence of a 2% hybrid', () => {
  it('is at least 5x below the teacher\'s KV cache at 4k tokens, as computed by hand', async () => {
    const teacher = parseTeacherConfig(LLAMA_32_1B)
    const cfg: HybridConfig = {teacher, teacherJson: LLAMA_32_1B, mixer: studentMixerConfig(teacher, {kind: 'discrete-mamba2', dState: 16}), adapterEps: 1e-5, layers: layoutFor(KEPT, 16)}
    const folder = join(root, 'llama-1b-hybrid')
    await mkdir(folder)
    await writeFile(join(folder, 'config.json'), JSON.stringify(hybridConfigToJson(cfg)))
    await sparseCheckpoint(folder, expectedHybridWeights(cfg), 'BF16')

    const r = runCli(['inspect', folder, '--json'])
    expect(r.status, r.stderr).toBe(0)
    const s = JSON.parse(r.stdout)
    expect(s.kind).toBe('hybrid')
    expect(s.attentionHeads).toEqual({kept: 10, total: 512})
    expect(s.layerKinds).toEqual({attention: 0, hybrid: 7, ssm: 9})

    // By hand, bf16 (2 bytes), L_ctx = 4096:
    const kv = 2 * 4096 * 10 * 64 * 2 // K and V of the 10 kept heads: 10 MiB
    const ssm = 16 * 32 * 64 * 16 * 2 // every layer has an SSM, H·P·N each: 1 MiB
    const conv = 16 * 3 * (2048 + 2 * 32 * 16) * 2 // (W − 1) · (x, B, C channels) per layer: 288 KiB
    const teacherKv = 2 * 4096 * 16 * 8 * 64 * 2 // 16 layers x 8 key/value heads: 128 MiB
    const m = s.sequenceMemory.checkpointDtype
    expect(m).toMatchObject({contextLength: 4096, bytesPerElement: 2, kvCacheBytes: kv, ssmStateBytes: ssm, convStateBytes: conv, totalBytes: kv + ssm + conv})
    expect(s.teacherKvCache.checkpointDtype.kvCacheBytes).toBe(teacherKv)
    expect(teacherKv / m.totalBytes).toBeGreaterThanOrEqual(5)
    expect(s.memoryReduction).toBeCloseTo(teacherKv / (kv + ssm + conv), 6)
    // As generate --kv-cache-dtype f16 holds it: keys and values at 2 bytes, the states at 4.
    expect(s.sequenceMemory.f16KvCache).toMatchObject({kvCacheBytes: kv, ssmStateBytes: 2 * ssm, convStateBytes: 2 * conv, totalBytes: kv + 2 * (ssm + conv)})
    expect(s.teacherKvCache.f16KvCache.kvCacheBytes).toBe(teacherKv)

    const text = runCli(['inspect', folder])
    expect(text.stdout).toMatch(/attention heads\s+10 of 512 kept \(2\.0%\)/)
    expect(text.stdout).toMatch(/memory reduction\s+11\.3x/)
    expect(text.stdout).toMatch(/teacher KV cache @ 4096\s+128\.0 MiB at BF16, 256\.0 MiB at F32, 128\.0 MiB with --kv-cache-dtype f16/)
  })
})

describe('inspect: weight memory per --dtype of a teacher', () => {
  it('Llama-3.2-1B: the matrices at 2 bytes in bf16/f16, the norms at 4, as computed by hand', async () => {
    const folder = join(root, 'llama-1b')
    await mkdir(folder)
    await writeFile(join(folder, 'config.json'), JSON.stringify(LLAMA_32_1B))
    await sparseCheckpoint(folder, expectedTeacherWeights(parseTeacherConfig(LLAMA_32_1B)), 'BF16')
    const r = runCli(['inspect', folder, '--json'])
    expect(r.status, r.stderr).toBe(0)
    // Tied: embed [128256, 2048]; per layer q, o [2048, 2048], k, v [512, 2048], gate, up, down 8192 x 2048, two norms.
    const matrices = 128256 * 2048 + 16 * (2 * 2048 * 2048 + 2 * 512 * 2048 + 3 * 8192 * 2048)
    const norms = 16 * 2 * 2048 + 2048
    const s = JSON.parse(r.stdout)
    expect(s.loadedWeightBytes).toEqual({f32: 4 * (matrices + norms), bf16: 2 * matrices + 4 * norms, f16: 2 * matrices + 4 * norms})
    expect(runCli(['inspect', folder]).stdout).toMatch(/weights loaded\s+--dtype f32 4\.60 GiB, bf16 or f16 2\.30 GiB/)
  })
})
