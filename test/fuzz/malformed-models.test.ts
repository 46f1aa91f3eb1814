import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {HybridizeError} from '../../src/errors.js'
import {SafetensorsFile} from '../../src/io/safetensors/reader.js'
import {writeSafetensors} from '../../src/io/safetensors/writer.js'
import {firstNonFinite} from '../../src/models/finite.js'
import {loadModel} from '../../src/models/load-model.js'
import {forwardIds} from '../../src/models/run-forward.js'
import {rewrite} from '../../src/rewrite/rewrite.js'
import {cpuBackend} from '../helpers/backends.js'
import {ourStderr, runCli} from '../helpers/cli.js'
import {fixtureReference} from '../helpers/paths.js'
import {Rng} from '../helpers/random.js'
import {writeHeadsJson} from '../rewrite/helpers.js'

/*
 * Seeded fuzzing of the two files a model folder is made of (issue 18's acceptance): mutated
 * config.json files and mutated model.safetensors files of the tiny Llama and Phi, generated here,
 * each loaded and run forward on the CPU. Every case must end in a one-line HybridizeError or in
 * finite logits (equal to the original's where the mutation cannot matter): never another
 * exception, a hang or a non-finite result. A few cases then go through the CLI for the exit code
 * and the single stderr line. FUZZ_SEED=n reruns with another seed; a failure names its case.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 18)
const CASES = 320
/** The tiny Llama and Phi, and a hybrid rewritten from the Llama (one attention head kept, a Mamba-2 mixer elsewhere). */
const FAMILIES = ['llama-tiny', 'phi-tiny', 'hybrid'] as const
const IDS = Int32Array.from([1, 17, 250, 3, 511])
const backend = cpuBackend()

type Json = Record<string, unknown>
interface Base {
  config: Json
  model: Uint8Array
  logits: Float32Array
}

let root: string
const bases = new Map<string, Base>()
const keysOf = (family: string) => (family === 'hybrid' ? HYBRID_KEYS : KEYS)

type Outcome = {kind: 'error'; message: string} | {kind: 'ok'; logits: Float32Array}

/** Load `dir` and run IDS through it; a thrown HybridizeError is an outcome, anything else fails the case. */
async function run(dir: string, what: string): Promise<Outcome> {
  const started = performance.now()
  try {
    const model = await loadModel(dir, backend)
    try {
      const {logits} = await forwardIds(model, backend, IDS, [1, IDS.length])
      expect(logits.shape, what).toEqual([1, IDS.length, model.vocabSize])
      expect(firstNonFinite(logits.data), what).toBe(-1)
      return {kind: 'ok', logits: logits.data}
    } finally {
      for (const t of (model as {weights: Map<string, {dispose(): void}>}).weights.values()) t.dispose()
    }
  } catch (err) {
    if (!(err instanceof HybridizeError)) throw new Error(`${what}: ${(err as Error)?.stack ?? String(err)}`)
    expect(err.message, what).not.toMatch(/\n/)
    // The line says which file is wrong (or that the numbers overflowed).
    expect(err.message, what).toMatch(/config\.json|\.safetensors|checkpoint|non-finite logit/)
    return {kind: 'error', message: err.message}
  } finally {
    // A hang shows as a slow case long before the test's own timeout.
    expect(performance.now() - started, `${what}: took too long`).toBeLessThan(10_000)
  }
}

// ------------------------------------------------------------------------------------------
// config.json mutations

const ODD_VALUES: unknown[] = [
  0, -1, 1, 2, 3, -0.5, 0.5, 1e-12, 1e9, 1e300, -1e300, 2 ** 31, 2 ** 53, 7.5, 'nonsense', '64', '', true, false, null,
  [], [1, 2], [2, -1], [0.5], {}, {__float__: 'Infinity'}, {__float__: 'NaN'},
]
/** Keys the parsers read, present or not in the fixtures, and a few they ignore. */
const KEYS = [
  'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim',
  'rms_norm_eps', 'layer_norm_eps', 'max_position_embeddings', 'attention_bias', 'mlp_bias', 'tie_word_embeddings', 'hidden_act',
  'qk_layernorm', 'bos_token_id', 'eos_token_id', 'rope_theta', 'partial_rotary_factor', 'rope_scaling', 'rope_parameters',
  'rope_parameters.rope_theta', 'rope_parameters.rope_type', 'rope_parameters.factor', 'rope_parameters.partial_rotary_factor',
  'rope_parameters.low_freq_factor', 'rope_parameters.high_freq_factor', 'rope_parameters.original_max_position_embeddings',
  'model_type', 'architectures',
]
/** The hybrid's own keys, its teacher's under teacher_config, and its layout. */
const HYBRID_KEYS = [
  'hybridize_format', 'vocab_size', 'hidden_size', 'num_hidden_layers', 'layers', 'layers.0', 'layers.1.attention_heads', 'adapter', 'adapter.eps', 'adapter.type',
  'mixer', 'mixer.type', 'mixer.d_model', 'mixer.n_heads', 'mixer.head_dim', 'mixer.d_state', 'mixer.x_heads', 'mixer.b_groups', 'mixer.c_groups',
  'mixer.norm_groups', 'mixer.norm_eps', 'mixer.d_conv', 'mixer.conv_bias', 'mixer.bias', 'mixer.chunk_size', 'teacher_config',
  ...KEYS.map((k) => `teacher_config.${k}`),
]
/** Keys no parser reads: changing them must not change the logits. */
const IGNORED = ['initializer_range', 'use_cache', 'transformers_version', 'attention_dropout', 'dtype', 'pad_token_id', 'fuzz_extra']

function setPath(obj: Json, path: string, value: unknown): void {
  const parts = path.split('.')
  let node = obj
  for (const part of parts.slice(0, -1)) {
    if (!node[part] || typeof node[part] !== 'object') node[part] = {}
    node = node[part] as Json
  }
  if (value === undefined) delete node[parts.at(-1)!]
  else node[parts.at(-1)!] = value
}

function getPath(obj: Json, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Json)[k] : undefined), obj)
}

/** One mutated config.json text and whether the model must still give exactly the original logits. */
function mutateConfig(rng: Rng, base: Json, keys: readonly string[]): {text: string; what: string; same: boolean} {
  const kind = rng.int(0, 9)
  if (kind === 0) {
    const key = rng.pick(IGNORED)
    const value = rng.pick(ODD_VALUES)
    const c = structuredClone(base)
    setPath(c, key, value)
    return {text: JSON.stringify(c), what: `ignored ${key} = ${JSON.stringify(value)}`, same: true}
  }
  if (kind === 1) {
    const text = JSON.stringify(base, null, 2)
    const cut = rng.int(0, text.length - 1)
    return {text: rng.next() < 0.5 ? text.slice(0, cut) : rng.pick(['[]', '"x"', 'null', '42', '{"model_type": "llama"}', '']), what: `not a config (cut at ${cut})`, same: false}
  }
  const c = structuredClone(base)
  const edits: string[] = []
  for (let n = rng.int(1, 3); n > 0; n--) {
    const key = rng.pick(keys)
    const original = getPath(base, key)
    const value = rng.next() < 0.15 ? undefined
      : typeof original === 'number' && rng.next() < 0.4 ? rng.pick([original * 2, original / 2, original + 1, original - 1, -original])
      : rng.pick(ODD_VALUES)
    setPath(c, key, value)
    edits.push(`${key} = ${value === undefined ? '(deleted)' : JSON.stringify(value)}`)
  }
  return {text: JSON.stringify(c), what: edits.join(', '), same: false}
}

// ------------------------------------------------------------------------------------------
// model.safetensors mutations

function headerOf(bytes: Uint8Array): {length: number; json: Json} {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true))
  return {length, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Json}
}

/** A file with header `json` (length written correctly) over `data`. */
function withHeader(json: Json, data: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(json))
  const out = new Uint8Array(8 + text.length + data.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true)
  out.set(text, 8)
  out.set(data, 8 + text.length)
  return out
}

const FLOAT_BITS = [0x7fc00000, 0x7f800000, 0xff800000, 0x7f7fffff, 0xff7fffff, 0x7f000000, 0x00000001, 0x80000000]

function mutateModel(rng: Rng, base: Uint8Array): {bytes: Uint8Array; what: string} {
  const {length, json} = headerOf(base)
  const dataStart = 8 + length
  const bytes = base.slice()
  const names = Object.keys(json).filter((k) => k !== '__metadata__')
  switch (rng.int(0, 7)) {
    case 0: {
      const flips = rng.int(1, 4)
      for (let i = 0; i < flips; i++) bytes[rng.int(8, dataStart - 1)] ^= 1 << rng.int(0, 7)
      return {bytes, what: `${flips} bit flips in the header`}
    }
    case 1: {
      const claimed = rng.pick([0n, 1n, BigInt(length - 1), BigInt(length + 1), BigInt(base.length), 2n ** 63n, 2n ** 64n - 1n])
      new DataView(bytes.buffer).setBigUint64(0, claimed, true)
      return {bytes, what: `header length ${claimed}`}
    }
    case 2: {
      const cut = rng.int(0, base.length - 1)
      return {bytes: base.slice(0, cut), what: `truncated to ${cut} bytes`}
    }
    case 3: {
      const extra = rng.int(1, 64)
      const out = new Uint8Array(base.length + extra)
      out.set(base)
      return {bytes: out, what: `${extra} bytes appended`}
    }
    case 4: {
      // Special float values at f32-aligned places in the data (every fixture tensor is F32).
      const view = new DataView(bytes.buffer)
      const n = rng.int(1, 3)
      const put: string[] = []
      for (let i = 0; i < n; i++) {
        const at = dataStart + 4 * rng.int(0, (base.length - dataStart) / 4 - 1)
        const bits = rng.pick(FLOAT_BITS)
        view.setUint32(at, bits, true)
        put.push(`0x${bits.toString(16)}@${at}`)
      }
      return {bytes, what: `data values ${put.join(' ')}`}
    }
    case 5: {
      const flips = rng.int(1, 20)
      for (let i = 0; i < flips; i++) bytes[rng.int(dataStart, base.length - 1)] ^= 1 << rng.int(0, 7)
      return {bytes, what: `${flips} bit flips in the data`}
    }
    case 6: {
      // A structurally valid file whose header lies: dtype, shape, offsets, names, metadata.
      const h = structuredClone(json)
      const name = rng.pick(names)
      const entry = h[name] as Json
      const edit = rng.int(0, 6)
      if (edit === 0) entry.dtype = rng.pick(['F16', 'BF16', 'F64', 'I32', 'I64', 'U8', 'BOOL', 'F12', 7, null])
      else if (edit === 1) entry.shape = rng.pick([[], [0], [-1, 64], [1.5, 2], [...(entry.shape as number[])].reverse(), [...(entry.shape as number[]), 1], 'x'])
      else if (edit === 2) entry.data_offsets = rng.pick([[0, 4], [-4, 0], [1, 2], null, [0], [2 ** 53, 2 ** 53 + 4]])
      else if (edit === 3) {
        delete h[name]
        h[name.replace(/layers\.(\d+)\./, () => `layers.${rng.pick([2, 3, 7, 10_000])}.`).replace(/weight$/, rng.pick(['weight', 'bias', 'scale']))] = entry
      } else if (edit === 4) delete h[name]
      else if (edit === 5) h.__metadata__ = rng.pick([{format: 7}, [], 'pt', null, {format: 'pt', extra: 'x'}])
      else h[`model.layers.${rng.pick([2, 5])}.mlp.up_proj.weight`] = {dtype: 'F32', shape: [0], data_offsets: [0, 0]}
      return {bytes: withHeader(h, bytes.subarray(dataStart)), what: `header ${name}: edit ${edit} -> ${JSON.stringify(h[name] ?? null)}`}
    }
    default: {
      const text = new TextDecoder().decode(bytes.subarray(8, dataStart))
      const garbage = rng.pick(['{', '}', '"', ',', '\u0000', '\uffff', 'NaN', '1e999'])
      const at = rng.int(0, text.length - 1)
      const edited = new TextEncoder().encode(text.slice(0, at) + garbage + text.slice(at + 1))
      const out = new Uint8Array(8 + edited.length + base.length - dataStart)
      new DataView(out.buffer).setBigUint64(0, BigInt(edited.length), true)
      out.set(edited, 8)
      out.set(bytes.subarray(dataStart), 8 + edited.length)
      return {bytes: out, what: `header text ${JSON.stringify(garbage)} at ${at}`}
    }
  }
}

// ------------------------------------------------------------------------------------------

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hybridize-fuzz-'))
  const teacher = join(fixtureReference, 'llama-tiny')
  const heads = await writeHeadsJson(root, teacher, 2, 4, [[1, 2]])
  await rewrite({teacherFolder: teacher, headsPath: heads, choice: {kind: 'selected'}, mixer: {kind: 'mamba2'}, out: join(root, 'hybrid-source'), command: 'test'})
  for (const family of FAMILIES) {
    const source = family === 'hybrid' ? join(root, 'hybrid-source') : join(fixtureReference, family)
    const dir = join(root, family)
    await mkdir(dir)
    const config = JSON.parse(await readFile(join(source, 'config.json'), 'utf8')) as Json
    const model = new Uint8Array(await readFile(join(source, 'model.safetensors')))
    await writeFile(join(dir, 'config.json'), JSON.stringify(config))
    await writeFile(join(dir, 'model.safetensors'), model)
    const outcome = await run(dir, `${family} as it is`)
    if (outcome.kind !== 'ok') throw new Error(`${family} does not load: ${outcome.message}`)
    bases.set(family, {config, model, logits: outcome.logits})
  }
})

afterAll(async () => {
  await rm(root, {recursive: true, force: true})
})

describe(`fuzzing model folders (seed ${SEED}): a one-line error or finite logits, never a stack, a hang or NaN`, () => {
  it(`${CASES} mutated config.json files`, async () => {
    const rng = new Rng(SEED)
    const tally = {error: 0, ok: 0}
    try {
      for (let i = 0; i < CASES; i++) {
        const family = FAMILIES[i % FAMILIES.length]
        const base = bases.get(family)!
        const dir = join(root, family)
        const {text, what, same} = mutateConfig(rng, base.config, keysOf(family))
        await writeFile(join(dir, 'config.json'), text)
        const outcome = await run(dir, `config case ${i} (${family}, seed ${SEED}): ${what}`)
        tally[outcome.kind]++
        if (same) expect(outcome.kind === 'ok' && outcome.logits, `config case ${i}: ${what}`).toEqual(base.logits)
      }
    } finally {
      for (const family of FAMILIES) await writeFile(join(root, family, 'config.json'), JSON.stringify(bases.get(family)!.config))
    }
    // Both outcomes occur: the fuzzer reaches past the parser as well as into it.
    expect(tally.error).toBeGreaterThan(CASES / 4)
    expect(tally.ok).toBeGreaterThan(CASES / 20)
  })

  it(`${CASES} mutated model.safetensors files`, async () => {
    const rng = new Rng(SEED + 1)
    const tally = {error: 0, ok: 0}
    try {
      for (let i = 0; i < CASES; i++) {
        const family = FAMILIES[i % FAMILIES.length]
        const base = bases.get(family)!
        const dir = join(root, family)
        const {bytes, what} = mutateModel(rng, base.model)
        await writeFile(join(dir, 'model.safetensors'), bytes)
        const outcome = await run(dir, `safetensors case ${i} (${family}, seed ${SEED + 1}): ${what}`)
        tally[outcome.kind]++
      }
    } finally {
      for (const family of FAMILIES) await writeFile(join(root, family, 'model.safetensors'), bases.get(family)!.model)
    }
    expect(tally.error).toBeGreaterThan(CASES / 4)
    expect(tally.ok).toBeGreaterThan(CASES / 20)
  })
})

describe('the CLI on mutated models: exit 1 and one stderr line naming what is wrong, or exit 0 and the right logits', () => {
  /** A copy of a fixture with its config edited and, optionally, one tensor's values edited. */
  async function folder(name: string, family: string, config: (c: Json) => void, tensor?: {name: string; edit: (d: Float32Array) => void}): Promise<string> {
    const dir = join(root, `cli-${name}`)
    await mkdir(dir)
    const c = structuredClone(bases.get(family)!.config)
    config(c)
    await writeFile(join(dir, 'config.json'), JSON.stringify(c))
    const file = await SafetensorsFile.open(join(fixtureReference, family, 'model.safetensors'))
    const tensors = []
    for (const n of file.tensors.keys()) {
      const data = await file.readF32(n)
      if (n === tensor?.name) tensor.edit(data)
      tensors.push({name: n, dtype: 'F32' as const, shape: file.entry(n).shape, data})
    }
    await file.close()
    await writeSafetensors(join(dir, 'model.safetensors'), tensors)
    return dir
  }

  let input: string
  beforeAll(async () => {
    input = join(root, 'ids.safetensors')
    await writeSafetensors(input, [{name: 'input_ids', dtype: 'I32', shape: [1, IDS.length], data: IDS}])
  })

  const cases: [string, string, (c: Json) => void, {name: string; edit: (d: Float32Array) => void} | undefined, RegExp][] = [
    ['rope-theta', 'llama-tiny', (c) => ((c.rope_parameters as Json).rope_theta = 0), undefined, /config\.json: rope_parameters\.rope_theta must be a positive number, got 0$/],
    ['layers-1e9', 'llama-tiny', (c) => (c.num_hidden_layers = 1e9), undefined, /config\.json: num_hidden_layers must be a positive integer \(at most 4096\), got 1000000000$/],
    ['fewer-layers', 'phi-tiny', (c) => (c.num_hidden_layers = 1), undefined, /the checkpoint holds 2 layers, but config\.json's num_hidden_layers is 1$/],
    ['rotary', 'phi-tiny', (c) => (c.partial_rotary_factor = -0.5), undefined, /config\.json: partial_rotary_factor must be a number in \(0, 1\], got -0\.5$/],
    ['nan', 'llama-tiny', () => {}, {name: 'model.layers.0.self_attn.k_proj.weight', edit: (d) => (d[5] = NaN)}, /tensor model\.layers\.0\.self_attn\.k_proj\.weight holds NaN at element 5; the checkpoint is corrupt$/],
    ['overflow', 'phi-tiny', () => {}, {name: 'lm_head.weight', edit: (d) => d.fill(3e38)}, /the model produced a non-finite logit/],
  ]
  for (const [name, family, config, tensor, message] of cases) {
    it(`forward on ${name}`, async () => {
      const dir = await folder(name, family, config, tensor)
      const output = join(dir, 'out.safetensors')
      // -q: no status lines, so what is left on stderr is the error alone.
      const r = runCli(['forward', dir, '--input', input, '--output', output, '--device', 'cpu', '-q'])
      expect(r.status, r.stderr).toBe(1)
      expect(r.stdout).toBe('')
      const lines = ourStderr(r.stderr)
      expect(lines, r.stderr).toHaveLength(1)
      expect(lines[0]).toMatch(/^hybridize: error: /)
      expect(lines[0]).toMatch(message)
      expect(existsSync(output)).toBe(false)
    })
  }

  it('forward on the model as it is: exit 0 and the logits of the library run', async () => {
    const dir = await folder('intact', 'phi-tiny', () => {})
    const output = join(dir, 'out.safetensors')
    const r = runCli(['forward', dir, '--input', input, '--output', output, '--device', 'cpu', '-q'])
    expect(r.status, r.stderr).toBe(0)
    const file = await SafetensorsFile.open(output)
    expect(await file.readF32('logits')).toEqual(bases.get('phi-tiny')!.logits)
    await file.close()
  })

  it('inspect names a nonsense hidden_act', async () => {
    const dir = await folder('act', 'llama-tiny', (c) => (c.hidden_act = 'nonsense'))
    const r = runCli(['inspect', dir])
    expect(r.status, r.stderr).toBe(1)
    expect(ourStderr(r.stderr)).toEqual([`hybridize: error: ${join(dir, 'config.json')}: hidden_act must be one of 'silu', 'swish', got "nonsense"`])
  })
})
