import {existsSync} from 'node:fs'
import {copyFile, mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {fromArray} from '../../src/engine/tensor.js'
import {HybridizeError} from '../../src/errors.js'
import {tokenLogprobs} from '../../src/eval/token-logprobs.js'
import type {LanguageModel} from '../../src/models/language-model.js'
import {openCheckpoint} from '../../src/io/safetensors/checkpoint.js'
import type {Dtype} from '../../src/io/safetensors/dtypes.js'
import {writeSafetensors} from '../../src/io/safetensors/writer.js'
import {firstNonFinite, halfBitsFinite} from '../../src/models/finite.js'
import type {Backend} from '../../src/backend/backend.js'
import {f16Value} from '../../src/kernels/f16.js'
import {loadModel} from '../../src/models/load-model.js'
import {forwardIds} from '../../src/models/run-forward.js'
import {rewrite} from '../../src/rewrite/rewrite.js'
import {cpuBackend, webgpuBackend} from '../helpers/backends.js'
import {ourStderr, runCli} from '../helpers/cli.js'
import {fixtureReference, repoRoot} from '../helpers/paths.js'
import {writeHeadsJson} from '../rewrite/helpers.js'

const backend = cpuBackend()
const gpu = await webgpuBackend()
let root: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-weights-'))
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

/**
 * A copy of a reference model whose tensors pass through `edit` (name, values) on the way, stored
 * as `dtype`; `config` edits config.json.
 */
async function variant(name: string, model: string, opts: {edit?: (name: string, data: Float32Array) => void; dtype?: Dtype; config?: (c: Record<string, unknown>) => void}): Promise<string> {
  const dir = join(root, name)
  await mkdir(dir, {recursive: true})
  const config = JSON.parse(await readFile(join(fixtureReference, model, 'config.json'), 'utf8')) as Record<string, unknown>
  opts.config?.(config)
  await writeFile(join(dir, 'config.json'), JSON.stringify(config))
  const ckpt = await openCheckpoint(join(fixtureReference, model))
  const tensors = []
  for (const n of ckpt.names()) {
    const data = await ckpt.readF32(n)
    opts.edit?.(n, data)
    tensors.push({name: n, dtype: opts.dtype ?? 'F32', shape: ckpt.shape(n), data})
  }
  await ckpt.close()
  await writeSafetensors(join(dir, 'model.safetensors'), tensors)
  return dir
}

async function loadError(dir: string, on: Backend = backend): Promise<string> {
  const err = await loadModel(dir, on).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(HybridizeError)
  return (err as Error).message
}

describe('non-finite weights are reported at load, naming the tensor (issue 18 point 6)', () => {
  it('a NaN in an F32 Llama weight', async () => {
    const dir = await variant('nan', 'llama-tiny', {edit: (n, d) => { if (n === 'model.layers.1.mlp.up_proj.weight') d[77] = NaN }})
    expect(await loadError(dir)).toMatch(/model\.safetensors: tensor model\.layers\.1\.mlp\.up_proj\.weight holds NaN at element 77; the checkpoint is corrupt$/)
  })

  it('infinities in a BF16 Phi weight, counted, on both backends (WebGPU widens bf16 on the device)', async () => {
    const dir = await variant('inf', 'phi-tiny', {dtype: 'BF16', edit: (n, d) => { if (n === 'model.final_layernorm.bias') d.fill(-Infinity, 3, 6) }})
    const message = /tensor model\.final_layernorm\.bias holds -Infinity at element 3 \(and 2 more non-finite values\)/
    expect(await loadError(dir)).toMatch(message)
    if (gpu) expect(await loadError(dir, gpu)).toMatch(message)
  })

  it('halfBitsFinite: every bf16 and f16 pattern alone, and one Inf among finite values', () => {
    const f32 = new Float32Array(1)
    for (const dtype of ['BF16', 'F16'] as const) {
      for (let bits = 0; bits < 65536; bits++) {
        const one = Uint16Array.of(bits)
        f32[0] = dtype === 'BF16' ? new Float32Array(Uint32Array.of(bits << 16).buffer)[0] : f16Value(bits)
        if (halfBitsFinite(one, dtype) !== Number.isFinite(f32[0])) expect(`${dtype} ${bits.toString(16)}`).toBe('agrees with the widened value')
      }
      const many = Uint16Array.from({length: 999}, (_, i) => (i * 37) & 0x3bff)
      expect(halfBitsFinite(many, dtype)).toBe(true)
      many[500] = dtype === 'BF16' ? 0x7f80 : 0x7c00
      expect(halfBitsFinite(many, dtype)).toBe(false)
    }
  })

  it('firstNonFinite finds NaN, ±Inf and nothing else (f32 extremes, -0 and subnormals are finite)', () => {
    const data = Float32Array.from([0, -0, 3.4028234663852886e38, -3.4028234663852886e38, 1e-45, 1])
    expect(firstNonFinite(data)).toBe(-1)
    for (const bad of [NaN, Infinity, -Infinity]) {
      data[4] = bad
      expect(firstNonFinite(data)).toBe(4)
    }
  })
})

describe('rewrite refuses a teacher with non-finite weights, writing nothing', () => {
  async function rewriteOf(teacher: string, name: string): Promise<unknown> {
    const heads = await writeHeadsJson(root, teacher, 2, 4, [[0, 1]], `${name}.heads.json`)
    const out = join(root, `${name}-hybrid`)
    const err = await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: 'mamba2'}, out, command: 'test'}).then(() => undefined, (e: unknown) => e)
    expect(existsSync(out)).toBe(false)
    return err
  }

  it('a NaN in a tensor copied as it is (F32 MLP weight)', async () => {
    const teacher = await variant('rewrite-nan', 'llama-tiny', {edit: (n, d) => { if (n === 'model.layers.0.mlp.down_proj.weight') d[9] = NaN }})
    expect(String(await rewriteOf(teacher, 'nan'))).toMatch(/tensor model\.layers\.0\.mlp\.down_proj\.weight holds NaN at element 9; the checkpoint is corrupt$/)
  })

  it('an Inf in a BF16 attention weight the SSM starts from, and one copied as it is', async () => {
    const fromAttention = await variant('rewrite-inf-q', 'llama-tiny', {dtype: 'BF16', edit: (n, d) => { if (n === 'model.layers.1.self_attn.q_proj.weight') d[4] = Infinity }})
    expect(String(await rewriteOf(fromAttention, 'inf-q'))).toMatch(/tensor model\.layers\.1\.self_attn\.q_proj\.weight holds Infinity at element 4/)
    const copied = await variant('rewrite-inf-norm', 'llama-tiny', {dtype: 'BF16', edit: (n, d) => { if (n === 'model.norm.weight') d[2] = -Infinity }})
    expect(String(await rewriteOf(copied, 'inf-norm'))).toMatch(/tensor model\.norm\.weight holds -Infinity at element 2; the checkpoint is corrupt$/)
  })
})

describe('weights must match the config\'s layer count (issue 18 point 6)', () => {
  it('a config with fewer layers than the checkpoint', async () => {
    const dir = await variant('fewer', 'llama-tiny', {config: (c) => (c.num_hidden_layers = 1)})
    expect(await loadError(dir)).toMatch(/the checkpoint holds 2 layers, but config\.json's num_hidden_layers is 1$/)
  })

  it('a config with more layers than the checkpoint', async () => {
    const dir = await variant('more', 'phi-tiny', {config: (c) => (c.num_hidden_layers = 3)})
    expect(await loadError(dir)).toMatch(/has no tensor model\.layers\.2\./)
  })

  it('a Mamba-2 checkpoint with fewer layers in its config', async () => {
    const dir = join(root, 'mamba2-fewer')
    await mkdir(dir, {recursive: true})
    await copyFile(join(fixtureReference, 'mamba2-tiny', 'model.safetensors'), join(dir, 'model.safetensors'))
    const config = JSON.parse(await readFile(join(fixtureReference, 'mamba2-tiny', 'config.json'), 'utf8')) as Record<string, unknown>
    await writeFile(join(dir, 'config.json'), JSON.stringify({...config, num_hidden_layers: 1}))
    expect(await loadError(dir)).toMatch(/the checkpoint holds 2 layers, but config\.json's num_hidden_layers is 1$/)
  })
})

describe('non-finite logits are never a result (issue 18 point 6)', () => {
  it('finite weights that overflow float32 make forward an error, not NaN logits', async () => {
    const dir = await variant('overflow', 'llama-tiny', {edit: (n, d) => { if (n === 'lm_head.weight') d.fill(3e38) }})
    const model = await loadModel(dir, backend)
    const err = await forwardIds(model, backend, Int32Array.from([1, 2, 3]), [1, 3]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(HybridizeError)
    expect((err as Error).message).toMatch(/^the model produced a non-finite logit \((-?Infinity|NaN) in row \d+, token \d+\)/)
  })

  it('find-heads exits 1 with one line instead of scoring heads on NaN', async () => {
    const dir = join(root, 'find-heads-overflow')
    await mkdir(dir)
    const source = join(repoRoot, 'fixtures', 'llama-tiny')
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) await copyFile(join(source, f), join(dir, f))
    const ckpt = await openCheckpoint(source)
    const tensors = []
    for (const n of ckpt.names()) {
      const data = await ckpt.readF32(n)
      if (n === 'model.norm.weight') data.fill(3e38)
      tensors.push({name: n, dtype: 'F32' as const, shape: ckpt.shape(n), data})
    }
    await ckpt.close()
    await writeSafetensors(join(dir, 'model.safetensors'), tensors)
    const out = join(dir, 'heads.json')
    const r = runCli(['find-heads', dir, '--samples', '4', '--pairs', '4', '--random-draws', '0', '--device', 'cpu', '--out', out, '-q'])
    expect(r.status, r.stderr).toBe(1)
    expect(ourStderr(r.stderr)).toEqual([expect.stringMatching(/^hybridize: error: the model produced a non-finite logit \(NaN in row \d+, token \d+\)/)])
    expect(existsSync(out)).toBe(false)
  })

  it('eval\'s log-likelihoods refuse non-finite logits', async () => {
    const lm: LanguageModel = {backend, vocabSize: 4, forward: (_ids, opts) => ({logits: fromArray(backend, Float32Array.from([0, 1, NaN, 2]), [opts!.logitRows!.shape[0], 4])})}
    await expect(tokenLogprobs(lm, [[1, 2]], [[{t: 1, target: 0}]])).rejects.toThrow(/non-finite logit \(NaN in row 0, token 2\)/)
  })
})
