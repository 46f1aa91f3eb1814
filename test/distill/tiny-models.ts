import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {writeCheckpoint} from '../../src/io/safetensors/writer.js'
import {hybridConfigToJson, type HybridConfig} from '../../src/models/hybrid-config.js'
import {expectedHybridWeights} from '../../src/models/hybrid-weights.js'
import {parseTeacherConfig} from '../../src/models/config.js'
import {expectedTeacherWeights} from '../../src/models/teacher-weights.js'
import {IDENTITY_GATE_BIAS} from '../../src/models/mixers/discrete-mamba2.js'
import {brownTexts} from '../../src/tasks/brown.js'
import {writeTokenizer} from '../../src/tokenizer/tokenizer-json.js'
import {trainBpe} from '../../src/tokenizer/train-bpe.js'
import {Rng} from '../helpers/random.js'

/**
 * A tiny random Llama teacher (2 layers, 4 query heads over 2 key/value heads, a 300-token BPE
 * trained on Brown text) and a hybrid student of it (layer 0 keeps head 1 beside its SSM, layer 1 is
 * pure SSM), both written as model folders: small enough that every stage runs in well under a second
 * a step on CPU, yet with every part a real student has.
 */
export const TINY = {hidden: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 8, intermediate: 64}

/** `size` widens the hidden and MLP sizes (e.g. to make checkpoints slow enough to interrupt). */
export async function writeTinyPair(dir: string, seed = 7, size: Partial<typeof TINY> = {}): Promise<{teacher: string; student: string; text: string}> {
  const dims = {...TINY, ...size}
  const teacher = join(dir, 'teacher')
  const student = join(dir, 'student')
  const text = join(dir, 'corpus.txt')
  await mkdir(teacher, {recursive: true})
  await mkdir(student, {recursive: true})
  const texts = brownTexts().slice(0, 3)
  await writeFile(text, texts.join('\n\n'))
  const bpe = trainBpe(texts, {vocabSize: 300})
  await writeTokenizer(teacher, bpe)
  await writeTokenizer(student, bpe)
  const eos = bpe.vocab.indexOf('<|endoftext|>')
  const teacherJson = {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: bpe.vocab.length, hidden_size: dims.hidden,
    intermediate_size: dims.intermediate, num_hidden_layers: dims.layers, num_attention_heads: dims.heads,
    num_key_value_heads: dims.kvHeads, head_dim: dims.headDim, rms_norm_eps: 1e-5, rope_theta: 10000,
    tie_word_embeddings: true, max_position_embeddings: 256, bos_token_id: eos, eos_token_id: eos,
  }
  await writeFile(join(teacher, 'config.json'), JSON.stringify(teacherJson))
  const rng = new Rng(seed)
  const tw = new Map<string, [number[], Float32Array]>()
  for (const [name, shape] of expectedTeacherWeights(parseTeacherConfig(teacherJson))) tw.set(name, [shape, init(rng, name, shape)])
  await writeCheckpoint(teacher, [...tw].map(([name, [shape, data]]) => ({name, dtype: 'F32' as const, shape, data})))

  const cfg: HybridConfig = {
    teacher: parseTeacherConfig(teacherJson),
    teacherJson,
    mixer: {kind: 'discrete-mamba2', hiddenSize: dims.hidden, vHeads: dims.heads, qkHeads: dims.heads, headDim: dims.headDim, stateDim: 8, convWidth: 4, convBias: true, bias: false, chunk: 16},
    adapterEps: 1e-5,
    layers: [{attentionHeads: [1]}, {attentionHeads: []}],
  }
  await writeFile(join(student, 'config.json'), JSON.stringify(hybridConfigToJson(cfg)))
  const sw = [...expectedHybridWeights(cfg)].map(([name, shape]) => {
    const same = tw.get(name)
    const data = same && same[0].join() === shape.join() ? same[1] : init(rng, name, shape)
    return {name, dtype: 'F32' as const, shape, data}
  })
  await writeCheckpoint(student, sw)
  return {teacher, student, text}
}

function init(rng: Rng, name: string, shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1)
  if (name.endsWith('z_bias')) return new Float32Array(n).fill(IDENTITY_GATE_BIAS)
  if (name.endsWith('.D')) return new Float32Array(n).fill(1)
  if (name.endsWith('conv1d.weight')) return Float32Array.from({length: n}, (_, i) => (i % shape[2] === shape[2] - 1 ? 1 : 0))
  if (/norm/.test(name)) return Float32Array.from({length: n}, () => 1 + 0.1 * (rng.next() - 0.5))
  if (name.endsWith('bias')) return new Float32Array(n)
  if (name.endsWith('embed_tokens.weight')) return rng.floats(n, 1)
  return rng.floats(n, Math.sqrt(3 / shape[1]))
}
