import {copyFile, mkdir, mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Backend} from '../../src/backend/backend.js'
import {fromArray, scopeAsync} from '../../src/engine/tensor.js'
import {exportTransformersMamba2} from '../../src/export/transformers-mamba2.js'
import {openCheckpoint} from '../../src/io/safetensors/checkpoint.js'
import {writeCheckpoint} from '../../src/io/safetensors/writer.js'
import {loadModel} from '../../src/models/load-model.js'
import {Mamba2Model} from '../../src/models/mamba2.js'
import {rewrite} from '../../src/rewrite/rewrite.js'
import {cpuBackend} from '../helpers/backends.js'
import {ourStderr, runCli} from '../helpers/cli.js'
import {relativeError} from '../helpers/compare.js'
import {fixtureReference} from '../helpers/paths.js'
import {Rng} from '../helpers/random.js'
import {writeHeadsJson} from '../rewrite/helpers.js'
import {exportableMamba2Student} from './exportable-student.js'

/**
 * A pure Mamba-2 student written as transformers' Mamba2ForCausalLM and read back by hybridize's
 * own Mamba2ForCausalLM loader gives the student's logits. The teacher has 4 query heads and 2
 * key/value heads, so the student's x and B come in 2 heads/groups, C in 4: the export repeats them.
 */
const cpu = cpuBackend()
const teacher = resolve(fixtureReference, 'llama-tied-headdim')
let root: string
let rewritten: string
let pure: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-export-'))
  const heads = await writeHeadsJson(root, teacher, 2, 4, [])
  rewritten = join(root, 'rewritten')
  await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: 'mamba2'}, out: rewritten, command: 'test'})
  pure = await exportableMamba2Student(rewritten, join(root, 'pure'))
  // The reference teacher has no tokenizer; any tokenizer.json shows that the export carries it.
  await copyFile(resolve(fixtureReference, '../llama-tiny/tokenizer.json'), join(pure, 'tokenizer.json'))
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

async function logitsOf(folder: string, backend: Backend, ids: Int32Array, shape: number[]): Promise<{logits: Float32Array; kind: string}> {
  const model = await loadModel(folder, backend)
  const logits = await scopeAsync(async () => model.forward(fromArray(backend, ids, shape)).logits.toFloat32())
  return {logits, kind: model instanceof Mamba2Model ? 'mamba2' : model.constructor.name}
}

describe('export --format transformers-mamba2', () => {
  it('writes a Mamba2ForCausalLM folder whose logits are the student\'s (CPU, rel err <= 1e-5)', async () => {
    const out = join(root, 'hf')
    const result = await exportTransformersMamba2(pure, out)
    expect(result.files).toContain('model.safetensors')
    expect(result.files).toContain('tokenizer.json')
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))
    expect(config).toMatchObject({architectures: ['Mamba2ForCausalLM'], model_type: 'mamba2', num_heads: 4, head_dim: 24, n_groups: 4, expand: 1.5, tie_word_embeddings: true, layer_norm_epsilon: 1e-6})
    const written = await openCheckpoint(out)
    // x and B repeated from 2 to 4 heads/groups: z 96 + x 96 + B 4·24 + C 4·24 + dt 4.
    expect(written.shape('backbone.layers.0.mixer.in_proj.weight')).toEqual([96 + 96 + 96 + 96 + 4, 64])
    expect(written.has('lm_head.weight')).toBe(false)
    await written.close()

    const rng = new Rng(3)
    const shape = [2, 13]
    const ids = Int32Array.from({length: 26}, () => rng.int(0, 255))
    const student = await logitsOf(pure, cpu, ids, shape)
    const exported = await logitsOf(out, cpu, ids, shape)
    expect([student.kind, exported.kind]).toEqual(['HybridModel', 'mamba2'])
    const err = relativeError(exported.logits, student.logits)
    expect(err, `relative error ${err.toExponential(2)}`).toBeLessThanOrEqual(1e-5)
  })

  it('refuses a student that does not fit, naming what is in the way', async () => {
    // As rewrite makes it: MLPs kept, the gated norm per head, the mixer's epsilon not the blocks'.
    await expect(exportTransformersMamba2(rewritten, join(root, 'no'))).rejects.toThrow(
      `${rewritten} cannot be a Mamba2ForCausalLM: its gated RMSNorm works in 4 groups, transformers' over all of y; its mixer's norm epsilon 0.00001 differs`,
    )
    // Fixed but for the MLPs.
    const withMlp = join(root, 'with-mlp')
    await mkdir(withMlp)
    await copyFile(join(rewritten, 'model.safetensors'), join(withMlp, 'model.safetensors'))
    await copyFile(join(pure, 'config.json'), join(withMlp, 'config.json'))
    await expect(exportTransformersMamba2(withMlp, join(root, 'no'))).rejects.toThrow(/layers 0, 1 keep an MLP \(mlp\.\* not zero\), which Mamba2ForCausalLM blocks do not have$/)
    // And an LM head bias, which transformers' lm_head lacks.
    const withBias = join(root, 'with-bias')
    const ckpt = await openCheckpoint(pure)
    const tensors = await Promise.all(ckpt.names().map(async (name) => ({name, dtype: 'F32' as const, shape: ckpt.shape(name), data: await ckpt.readF32(name)})))
    await ckpt.close()
    await writeCheckpoint(withBias, [...tensors, {name: 'lm_head.bias', dtype: 'F32', shape: [256], data: new Float32Array(256)}])
    await copyFile(join(pure, 'config.json'), join(withBias, 'config.json'))
    await expect(exportTransformersMamba2(withBias, join(root, 'no'))).rejects.toThrow(/cannot be a Mamba2ForCausalLM: its LM head has a bias$/)
  })

  it('prints the folder on stdout, and replaces an existing one only with --force', () => {
    const out = join(root, 'cli-hf')
    const first = runCli(['export', pure, '--format', 'transformers-mamba2', '--out', out])
    expect(first.status, first.stderr).toBe(0)
    expect(first.stdout).toBe(`${out}\n`)
    const again = runCli(['export', pure, '--format', 'transformers-mamba2', '--out', out])
    expect(again.status).toBe(1)
    expect(ourStderr(again.stderr)).toEqual([expect.stringMatching(/already exists; choose another --out, or pass --force to replace it$/)])
    const forced = runCli(['export', pure, '--format', 'transformers-mamba2', '--out', out, '--force', '--json'])
    expect(forced.status, forced.stderr).toBe(0)
    expect(JSON.parse(forced.stdout)).toMatchObject({out, format: 'transformers-mamba2', files: ['config.json', 'model.safetensors', 'tokenizer.json']})
  })

  it('exits 2 with one line for a student keeping attention heads or another mixer', async () => {
    const heads = await writeHeadsJson(root, teacher, 2, 4, [[1, 2]], 'one-head.json')
    const hybrid = join(root, 'hybrid')
    await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: 'discrete-mamba2'}, out: hybrid, command: 'test'})
    const r = runCli(['export', hybrid, '--format', 'transformers-mamba2', '--out', join(root, 'no')])
    expect(r.status, r.stderr).toBe(2)
    const lines = ourStderr(r.stderr)
    expect(lines, r.stderr).toHaveLength(1)
    expect(lines[0]).toMatch(/cannot be a Mamba2ForCausalLM: layer 1 keeps attention heads; its mixer is discrete-mamba2, not mamba2/)
  })
})
