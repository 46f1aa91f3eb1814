import {readFileSync} from 'node:fs'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {z} from 'zod'
import {HybridizeError} from '../../src/errors.js'
import {readGenerationDefaults} from '../../src/generate/generation-config.js'
import {parseTeacherConfig} from '../../src/models/config.js'
import {TEACHER_FIELDS} from '../../src/models/config-fields.js'
import {configSchema} from '../../src/models/config-validate.js'
import {hybridConfigToJson, parseHybridConfig} from '../../src/models/hybrid-config.js'
import {llambaToHybridConfig} from '../../src/models/llamba.js'
import {loadModel} from '../../src/models/load-model.js'
import {parseMamba2Config} from '../../src/models/mamba2-config.js'
import {studentMixerConfig} from '../../src/rewrite/student-config.js'
import {cpuBackend} from '../helpers/backends.js'
import {ourStderr, runCli} from '../helpers/cli.js'
import {fixtureReference} from '../helpers/paths.js'

type Json = Record<string, unknown>
const read = (name: string): Json => JSON.parse(readFileSync(join(fixtureReference, name, 'config.json'), 'utf8')) as Json
const llama = read('llama-tiny')
const phi = read('phi-tiny')
const mamba2 = read('mamba2-tiny')

/** `base` with `edit` applied to a deep copy. */
function edited(base: Json, edit: (c: Json) => void): Json {
  const copy = structuredClone(base)
  edit(copy)
  return copy
}

/** The one-line message parse throws, as a HybridizeError. */
function errorOf(parse: () => unknown): string {
  try {
    parse()
  } catch (err) {
    expect(err).toBeInstanceOf(HybridizeError)
    expect((err as Error).message).not.toContain('\n')
    return (err as Error).message
  }
  throw new Error('parsed without an error')
}

const transformers4 = (c: Json) => {
  const rope = c.rope_parameters as Json
  delete c.rope_parameters
  c.rope_theta = rope.rope_theta
}

describe('teacher config fields: a type and range check naming the field (issue 18 point 6)', () => {
  const cases: [string, Json, (c: Json) => void, string][] = [
    ['rope_theta 0 (transformers 5)', llama, (c) => ((c.rope_parameters as Json).rope_theta = 0), 'config.json: rope_parameters.rope_theta must be a positive number, got 0'],
    ['rope_theta negative (transformers 4)', llama, (c) => { transformers4(c); c.rope_theta = -10000 }, 'config.json: rope_theta must be a positive number, got -10000'],
    ['negative rms_norm_eps', llama, (c) => (c.rms_norm_eps = -1e-6), 'config.json: rms_norm_eps must be a number in (0, 1], got -0.000001'],
    ['negative layer_norm_eps', phi, (c) => (c.layer_norm_eps = -1e-5), 'config.json: layer_norm_eps must be a number in (0, 1], got -0.00001'],
    ['rope factor 0', llama, (c) => (c.rope_parameters = {rope_theta: 10000, rope_type: 'linear', factor: 0}), 'config.json: rope_parameters.factor must be a positive number, got 0'],
    ['rope_scaling factor 0 (transformers 4)', llama, (c) => { transformers4(c); c.rope_scaling = {type: 'linear', factor: 0} }, 'config.json: rope_scaling.factor must be a positive number, got 0'],
    ['num_hidden_layers 0', llama, (c) => (c.num_hidden_layers = 0), 'config.json: num_hidden_layers must be a positive integer (at most 4096), got 0'],
    ['num_hidden_layers 1e9', llama, (c) => (c.num_hidden_layers = 1e9), 'config.json: num_hidden_layers must be a positive integer (at most 4096), got 1000000000'],
    ['hidden_act nonsense', llama, (c) => (c.hidden_act = 'nonsense'), `config.json: hidden_act must be one of 'silu', 'swish', got "nonsense"`],
    ['Phi hidden_act silu', phi, (c) => (c.hidden_act = 'silu'), `config.json: hidden_act must be one of 'gelu_new', 'gelu_pytorch_tanh', got "silu"`],
    ['partial_rotary_factor -0.5', phi, (c) => { delete c.partial_rotary_factor; (c.rope_parameters as Json).partial_rotary_factor = -0.5 }, 'config.json: rope_parameters.partial_rotary_factor must be a number in (0, 1], got -0.5'],
    ['partial_rotary_factor -0.5 (transformers 4)', phi, (c) => { transformers4(c); c.partial_rotary_factor = -0.5 }, 'config.json: partial_rotary_factor must be a number in (0, 1], got -0.5'],
    ['hidden_size as a string', llama, (c) => (c.hidden_size = '64'), 'config.json: hidden_size must be a positive integer (at most 131072), got "64"'],
    ['fractional head_dim', llama, (c) => (c.head_dim = 15.5), 'config.json: head_dim must be a positive integer (at most 4096), got 15.5'],
    ['missing vocab_size', llama, (c) => delete c.vocab_size, 'config.json: vocab_size is missing; it must be a positive integer (at most 16777216)'],
    ['negative eos_token_id', llama, (c) => (c.eos_token_id = -1), 'config.json: eos_token_id must be a token id (a non-negative integer) or a list of them, got -1'],
    ['a negative eos_token_id in a list', llama, (c) => (c.eos_token_id = [2, -1]), 'config.json: eos_token_id must be a token id (a non-negative integer) or a list of them, got [2,-1]'],
    ['attention_bias as a string', llama, (c) => (c.attention_bias = 'yes'), 'config.json: attention_bias must be true or false, got "yes"'],
    ['rope type yarn', llama, (c) => ((c.rope_parameters as Json).rope_type = 'yarn'), `config.json: rope_parameters.rope_type must be one of 'default', 'linear', 'llama3', got "yarn"`],
    ['rope_parameters not an object', llama, (c) => (c.rope_parameters = 5), 'config.json: rope_parameters must be an object, got 5'],
    ['llama3 high_freq_factor below low', llama, (c) => (c.rope_parameters = {rope_theta: 5e5, rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1, original_max_position_embeddings: 64}), 'config.json: rope_parameters.high_freq_factor (1) must be above low_freq_factor (4)'],
    ['key/value heads that do not divide the heads', llama, (c) => (c.num_key_value_heads = 3), 'config.json: num_key_value_heads 3 must divide num_attention_heads 4'],
    ['top-level and nested values that disagree', phi, (c) => (c.partial_rotary_factor = 0.25), 'config.json: partial_rotary_factor (0.25) and rope_parameters.partial_rotary_factor (0.5) disagree'],
    ['a top-level value out of range beside a nested one', phi, (c) => (c.partial_rotary_factor = -0.5), 'config.json: partial_rotary_factor must be a number in (0, 1], got -0.5'],
    ['an odd rotary dimension', phi, (c) => { delete c.partial_rotary_factor; (c.rope_parameters as Json).partial_rotary_factor = 0.1 }, 'config.json: the rotary dimension (head_dim 16 × partial_rotary_factor 0.1) is 1; it must be even and at least 2'],
  ]
  for (const [what, base, edit, message] of cases) {
    it(what, () => expect(errorOf(() => parseTeacherConfig(edited(base, edit)))).toBe(message))
  }

  it('reads both fixtures, with null read as absent (transformers writes None as null)', () => {
    const cfg = parseTeacherConfig(edited(llama, (c) => { transformers4(c); c.rope_scaling = null; c.head_dim = null }))
    expect(cfg).toMatchObject({numLayers: 2, headDim: 16, ropeTheta: 10000, ropeScaling: {type: 'default'}, normEps: 1e-6, hiddenAct: 'silu'})
    expect(parseTeacherConfig(phi)).toMatchObject({rotaryDim: 8, normEps: 1e-5, hiddenAct: 'gelu_new'})
  })

  it('the table becomes a JSON Schema with its ranges', () => {
    const schema = z.toJSONSchema(configSchema(TEACHER_FIELDS, 'llama'), {io: 'input'}) as {properties: Record<string, Json>; required: string[]}
    expect(schema.properties.num_hidden_layers).toMatchObject({type: 'integer', minimum: 1, maximum: 4096})
    expect(schema.required).toContain('num_hidden_layers')
    expect(schema.properties.rms_norm_eps).toMatchObject({default: 1e-6})
    expect(schema.properties.layer_norm_eps).toBeUndefined()
  })
})

describe('Mamba-2, Llamba and hybrid config fields', () => {
  it('Mamba-2: ranges named by field', () => {
    expect(errorOf(() => parseMamba2Config(edited(mamba2, (c) => (c.state_size = 0))))).toBe('config.json: state_size must be a positive integer (at most 4096), got 0')
    expect(errorOf(() => parseMamba2Config(edited(mamba2, (c) => (c.conv_kernel = 1))))).toBe('config.json: conv_kernel must be an integer of at least 2 (at most 64), got 1')
    expect(errorOf(() => parseMamba2Config(edited(mamba2, (c) => (c.n_groups = 3))))).toBe('config.json: n_groups 3 must divide num_heads 8')
    expect(parseMamba2Config(mamba2).mixer.stateDim).toBe(16)
  })

  const llambaJson: Json = {
    model_type: 'llamba', d_model: 64, n_layer: 2, vocab_size: 500, norm_epsilon: 1e-5,
    ssm_cfg: {n_v_heads: 4, n_qk_heads: 4, expand: 1, d_state: 16}, mlp_cfg: {intermediate_size: 128},
  }

  it('Llamba: nested fields named with their object', () => {
    expect(llambaToHybridConfig(llambaJson).teacher.vocabSize).toBe(504)
    expect(errorOf(() => llambaToHybridConfig(edited(llambaJson, (c) => ((c.ssm_cfg as Json).d_state = 0))))).toBe('config.json: ssm_cfg.d_state must be a positive integer (at most 4096), got 0')
    expect(errorOf(() => llambaToHybridConfig(edited(llambaJson, (c) => (c.ssm_cfg = 'x'))))).toBe('config.json: ssm_cfg must be an object, got "x"')
    expect(errorOf(() => llambaToHybridConfig(edited(llambaJson, (c) => ((c.ssm_cfg as Json).n_v_heads = 3))))).toMatch(/ssm_cfg\.n_v_heads 3 must divide/)
  })

  const teacher = parseTeacherConfig(llama)
  const hybridJson = hybridConfigToJson({
    teacher, teacherJson: llama, mixer: studentMixerConfig(teacher, {kind: 'mamba2'}), adapterEps: 1e-5,
    layers: [{attentionHeads: [0]}, {attentionHeads: []}],
  })

  it('hybrid: the mixer, the adapter and the copies of the teacher sizes', () => {
    expect(parseHybridConfig(hybridJson).mixer.kind).toBe('mamba2')
    expect(errorOf(() => parseHybridConfig(edited(hybridJson, (c) => ((c.mixer as Json).d_state = -4))))).toBe('config.json: mixer.d_state must be a positive integer (at most 4096), got -4')
    expect(errorOf(() => parseHybridConfig(edited(hybridJson, (c) => ((c.mixer as Json).norm_eps = 0))))).toBe('config.json: mixer.norm_eps must be a number in (0, 1], got 0')
    expect(errorOf(() => parseHybridConfig(edited(hybridJson, (c) => ((c.adapter as Json).eps = -1))))).toBe('config.json: adapter.eps must be a number in (0, 1], got -1')
    expect(errorOf(() => parseHybridConfig(edited(hybridJson, (c) => ((c.mixer as Json).norm_groups = 3))))).toMatch(/^config\.json: the mixer's settings do not fit together \(mamba2: .*norm groups 3/)
    expect(errorOf(() => parseHybridConfig(edited(hybridJson, (c) => (c.num_hidden_layers = 1))))).toBe('config.json: num_hidden_layers is 1, but teacher_config.num_hidden_layers is 2; they must agree')
    expect(errorOf(() => parseHybridConfig(edited(hybridJson, (c) => ((c.teacher_config as Json).rms_norm_eps = -1))))).toBe('config.json (teacher_config): rms_norm_eps must be a number in (0, 1], got -1')
  })
})

describe('config.json itself', () => {
  it('generate on a folder without config.json says so, not that the tokenizer is missing (issue 18 point 10)', () => {
    const r = runCli(['generate', fixtureReference, '-p', 'hi', '--device', 'cpu'])
    expect(r.status, r.stderr).toBe(1)
    expect(ourStderr(r.stderr)).toEqual([`hybridize: error: ${fixtureReference} is not a model folder: it has no config.json and no tokenizer.json`])
  })

  async function folderWith(text: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'hybridize-config-'))
    await writeFile(join(dir, 'config.json'), text)
    return dir
  }

  it('says whether it is not JSON, not an object, or has no model_type', async () => {
    const cpu = cpuBackend()
    const cases: [string, RegExp][] = [
      ['{"model_type": "llama",', /config\.json is not valid JSON \(.+\)$/],
      ['[1, 2]', /config\.json is not a JSON object$/],
      ['{"hidden_size": 64}', /config\.json has no model_type; supported: llama, phi, mamba2, llamba, hybridize-hybrid, or the configs of mamba_ssm's MambaLMHeadModel and Phi-Mamba$/],
    ]
    for (const [text, message] of cases) {
      const dir = await folderWith(text)
      await expect(loadModel(dir, cpu)).rejects.toThrow(message)
      await rm(dir, {recursive: true})
    }
  })
})

describe('generation_config.json fields', () => {
  it('temperature, top_p and token ids get the same checks; sampling settings are read when do_sample is true', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hybridize-generation-'))
    await writeFile(join(dir, 'config.json'), JSON.stringify(llama))
    const withGeneration = async (gen: unknown) => {
      await writeFile(join(dir, 'generation_config.json'), JSON.stringify(gen))
      return readGenerationDefaults(dir)
    }
    expect(await withGeneration({do_sample: true, temperature: 0.6, top_p: 0.9, eos_token_id: [2, 3]})).toEqual({eosTokenIds: [2, 3], bosTokenId: 1, temperature: 0.6, topP: 0.9})
    expect(await withGeneration({temperature: 0.6})).toMatchObject({temperature: 0, topP: 1})
    await expect(withGeneration({do_sample: true, temperature: -1})).rejects.toThrow(/generation_config\.json: temperature must be a non-negative number, got -1$/)
    await expect(withGeneration({do_sample: true, top_p: 1.5})).rejects.toThrow(/generation_config\.json: top_p must be a number in \(0, 1\], got 1\.5$/)
    await expect(withGeneration({eos_token_id: 'x'})).rejects.toThrow(/generation_config\.json: eos_token_id must be a token id/)
    await expect(withGeneration([1])).rejects.toThrow(/generation_config\.json is not a JSON object$/)
    await rm(dir, {recursive: true})
  })
})
