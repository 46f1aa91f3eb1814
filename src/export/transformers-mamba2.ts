import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {HybridizeError} from '../errors.js'
import {withAtomicFolder} from '../io/atomic.js'
import {openCheckpoint, type Checkpoint} from '../io/safetensors/checkpoint.js'
import type {Dtype} from '../io/safetensors/dtypes.js'
import {DEFAULT_MAX_SHARD_BYTES, writeCheckpoint, type TensorToWrite} from '../io/safetensors/writer.js'
import {HYBRID_MODEL_TYPE, layerKind, parseHybridConfig, type HybridConfig} from '../models/hybrid-config.js'
import {readConfigJson} from '../models/load.js'
import {mamba2Dims, type Mamba2Config} from '../models/mixers/mamba2.js'
import {copyTokenizerFiles} from '../rewrite/rewrite.js'

/**
 * `hybridize export --format transformers-mamba2`: a hybrid student that is a pure Mamba-2 model
 * written as a transformers Mamba2ForCausalLM folder (config.json, model.safetensors in
 * transformers' names, the tokenizer files), which `Mamba2ForCausalLM.from_pretrained` loads.
 *
 * transformers' block is h += mixer(rmsnorm(h)); norm_f; lm_head: no MLP, one epsilon for every
 * norm, the gated RMSNorm over all of y (its pure-PyTorch path), x with one head per SSM head and
 * B and C sharing n_groups. A student fits when its layers keep no attention, its mixer is mamba2
 * on a Llama skeleton without an LM head bias, its MLPs are zero (down_proj all 0), its gated norm
 * has one group and its epsilons agree; anything else is named and refused. hybridize's x heads and B/C groups, repeated
 * like grouped-query attention, are written out repeated, which computes the same thing.
 */
export interface ExportResult {
  out: string
  files: string[]
  format: 'transformers-mamba2'
}

const ARCHITECTURE = 'Mamba2ForCausalLM'
const TORCH_DTYPES: Record<string, string> = {F32: 'float32', BF16: 'bfloat16', F16: 'float16'}

export async function exportTransformersMamba2(student: string, out: string, options: {overwrite?: boolean; maxShardBytes?: number} = {}): Promise<ExportResult> {
  const raw = await readConfigJson(student)
  if (raw.model_type !== HYBRID_MODEL_TYPE) {
    throw new HybridizeError(`${student}: model_type '${String(raw.model_type)}' is not a hybridize student (${HYBRID_MODEL_TYPE}); export takes the output of rewrite, distill or merge`, {code: 'E_USAGE'})
  }
  const cfg = parseHybridConfig(raw, join(student, 'config.json'))
  refuse(student, configObstacles(cfg))
  const mixer = cfg.mixer as Mamba2Config
  const ckpt = await openCheckpoint(student)
  try {
    refuse(student, await weightObstacles(cfg, ckpt))
    const files = await withAtomicFolder(out, async (tmp) => {
      const config = mamba2ConfigJson(cfg, TORCH_DTYPES[ckpt.info('model.embed_tokens.weight').dtype] ?? 'float32')
      await writeFile(join(tmp, 'config.json'), JSON.stringify(config, null, 2) + '\n')
      const written = await writeCheckpoint(tmp, mamba2Tensors(cfg, mixer, ckpt), {maxShardBytes: options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES, metadata: {producer: 'hybridize export'}})
      const copied = await copyTokenizerFiles(student, tmp)
      return ['config.json', ...written.files, ...copied]
    }, {overwrite: options.overwrite})
    return {out, files, format: 'transformers-mamba2'}
  } finally {
    await ckpt.close()
  }
}

function refuse(student: string, obstacles: string[]): void {
  if (obstacles.length > 0) throw new HybridizeError(`${student} cannot be a ${ARCHITECTURE}: ${obstacles.join('; ')}`, {code: 'E_USAGE'})
}

/** What in the student's config has no place in Mamba2ForCausalLM. */
function configObstacles(cfg: HybridConfig): string[] {
  const t = cfg.teacher
  const out: string[] = []
  const attention = cfg.layers.map((_, l) => l).filter((l) => layerKind(cfg, l) !== 'ssm')
  if (attention.length > 0) out.push(`layer${attention.length > 1 ? 's' : ''} ${attention.join(', ')} keep${attention.length > 1 ? '' : 's'} attention heads`)
  if (cfg.mixer.kind !== 'mamba2') out.push(`its mixer is ${cfg.mixer.kind}, not mamba2`)
  if (t.family !== 'llama') out.push(`its ${t.family} skeleton (LayerNorm, parallel block) is not Mamba-2's (RMSNorm, sequential)`)
  if (cfg.mixer.kind === 'mamba2') {
    const m = cfg.mixer
    if (m.normGroups !== 1) out.push(`its gated RMSNorm works in ${m.normGroups} groups, transformers' over all of y`)
    if (m.normEps !== t.normEps) out.push(`its mixer's norm epsilon ${m.normEps} differs from its block norms' ${t.normEps} (transformers has one layer_norm_epsilon)`)
  }
  return out
}

/** Weights Mamba2ForCausalLM has no place for: an MLP that is not zero, an LM head bias. */
async function weightObstacles(cfg: HybridConfig, ckpt: Checkpoint): Promise<string[]> {
  const out = await mlpObstacles(cfg, ckpt)
  if (ckpt.has('lm_head.bias')) out.push('its LM head has a bias')
  return out
}

async function mlpObstacles(cfg: HybridConfig, ckpt: Checkpoint): Promise<string[]> {
  const layers: number[] = []
  for (let l = 0; l < cfg.teacher.numLayers; l++) {
    const names = [`model.layers.${l}.mlp.down_proj.weight`, `model.layers.${l}.mlp.down_proj.bias`].filter((n) => ckpt.has(n))
    for (const name of names) {
      if ((await ckpt.readF32(name)).some((v) => v !== 0)) {
        layers.push(l)
        break
      }
    }
  }
  if (layers.length === 0) return []
  return [`layer${layers.length > 1 ? 's' : ''} ${layers.join(', ')} keep${layers.length > 1 ? '' : 's'} an MLP (mlp.* not zero), which Mamba2ForCausalLM blocks do not have`]
}

/** transformers' Mamba2Config. time_step_limit is left out: its default (0, inf) is hybridize's. */
function mamba2ConfigJson(cfg: HybridConfig, dtype: string): Record<string, unknown> {
  const t = cfg.teacher
  const m = cfg.mixer as Mamba2Config
  const teacherJson = cfg.teacherJson
  const tokenIds: Record<string, unknown> = {}
  for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id']) if (teacherJson[key] !== undefined) tokenIds[key] = teacherJson[key]
  return {
    architectures: [ARCHITECTURE],
    model_type: 'mamba2',
    vocab_size: t.vocabSize,
    hidden_size: t.hiddenSize,
    num_hidden_layers: t.numLayers,
    num_heads: m.heads,
    head_dim: m.headDim,
    expand: (m.heads * m.headDim) / t.hiddenSize,
    state_size: m.stateDim,
    n_groups: groupsOf(m),
    conv_kernel: m.convWidth,
    use_conv_bias: m.convBias,
    use_bias: m.bias,
    chunk_size: m.chunk,
    hidden_act: 'silu',
    layer_norm_epsilon: t.normEps,
    rms_norm: true,
    tie_word_embeddings: t.tieWordEmbeddings,
    ...tokenIds,
    dtype,
  }
}

/** transformers' n_groups: B and C share it, so the finer of hybridize's two groupings. */
function groupsOf(m: Mamba2Config): number {
  return Math.max(m.bGroups, m.cGroups)
}

/** The tensors under transformers' names, x heads and B/C groups repeated out to its layout. */
function mamba2Tensors(cfg: HybridConfig, m: Mamba2Config, ckpt: Checkpoint): TensorToWrite[] {
  const t = cfg.teacher
  const tensors: TensorToWrite[] = []
  const copy = (from: string, to: string): void => {
    const info = ckpt.info(from)
    tensors.push({name: to, dtype: info.dtype as Dtype, shape: info.shape, data: () => ckpt.readBytes(from)})
  }
  const rows = (from: string, to: string, blocks: RowBlock[]): void => {
    const info = ckpt.info(from)
    const cols = info.shape.slice(1).reduce((a, b) => a * b, 1)
    const outRows = blocks.reduce((n, b) => n + b.rows * b.times * b.count, 0)
    tensors.push({name: to, dtype: info.dtype as Dtype, shape: [outRows, ...info.shape.slice(1)], data: async () => repeatRows(await ckpt.readF32(from), cols, blocks)})
  }
  copy('model.embed_tokens.weight', 'backbone.embeddings.weight')
  const d = mamba2Dims(m)
  const G = groupsOf(m)
  const head = m.headDim
  const group = m.stateDim
  // in_proj rows are z | x | B | C | dt; conv1d channels are x | B | C.
  const xBlocks: RowBlock[] = [{rows: head, times: m.heads / m.xHeads, count: m.xHeads}]
  const bBlocks: RowBlock[] = [{rows: group, times: G / m.bGroups, count: m.bGroups}]
  const cBlocks: RowBlock[] = [{rows: group, times: G / m.cGroups, count: m.cGroups}]
  const conv = [...xBlocks, ...bBlocks, ...cBlocks]
  const proj = [{rows: d.inner, times: 1, count: 1}, ...conv, {rows: m.heads, times: 1, count: 1}]
  for (let l = 0; l < t.numLayers; l++) {
    const from = `model.layers.${l}.`
    const to = `backbone.layers.${l}.`
    copy(from + 'input_layernorm.weight', to + 'norm.weight')
    rows(from + 'ssm.in_proj.weight', to + 'mixer.in_proj.weight', proj)
    if (m.bias) rows(from + 'ssm.in_proj.bias', to + 'mixer.in_proj.bias', proj)
    rows(from + 'ssm.conv1d.weight', to + 'mixer.conv1d.weight', conv)
    if (m.convBias) rows(from + 'ssm.conv1d.bias', to + 'mixer.conv1d.bias', conv)
    for (const name of ['dt_bias', 'A_log', 'D', 'norm.weight', 'out_proj.weight', ...(m.bias ? ['out_proj.bias'] : [])]) copy(from + 'ssm.' + name, to + 'mixer.' + name)
  }
  copy('model.norm.weight', 'backbone.norm_f.weight')
  if (!t.tieWordEmbeddings) copy('lm_head.weight', 'lm_head.weight')
  return tensors
}

/** `count` consecutive blocks of `rows` rows, each written `times` times in a row (repeat_interleave). */
interface RowBlock {
  rows: number
  times: number
  count: number
}

function repeatRows(data: Float32Array, cols: number, blocks: RowBlock[]): Float32Array {
  const total = blocks.reduce((n, b) => n + b.rows * b.times * b.count, 0)
  const out = new Float32Array(total * cols)
  let src = 0
  let dst = 0
  for (const b of blocks) {
    for (let i = 0; i < b.count; i++) {
      const block = data.subarray(src * cols, (src + b.rows) * cols)
      for (let r = 0; r < b.times; r++, dst += b.rows) out.set(block, dst * cols)
      src += b.rows
    }
  }
  return out
}

