import type {Checkpoint} from '../io/safetensors/checkpoint.js'
import type {Dtype} from '../io/safetensors/dtypes.js'
import type {TensorToWrite} from '../io/safetensors/writer.js'
import type {TeacherConfig} from '../models/config.js'
import {checkFiniteStored, readFiniteF32} from '../models/finite.js'
import {layerKind, type HybridConfig} from '../models/hybrid-config.js'
import {expectedHybridWeights} from '../models/hybrid-weights.js'
import {attentionNames} from '../models/teacher-weights.js'
import {Random} from '../util/random.js'
import {ssmFromAttention, type AttentionWeights} from './ssm-init.js'

/**
 * Where the SSM mixers' projections come from: the layer's attention weights (the default; mohawk's
 * `init_ssm_from_attention_layer`), or random ones (mohawk's default, and the MOHAWK paper's setting,
 * in which stage 1 starts from a mixer that knows nothing of attention).
 */
export type SsmInit = {kind: 'attention'} | {kind: 'random'; seed: number}

/**
 * The tensors of a hybrid initialised from its teacher (MambaInLlama, jxiw/MambaInLlama; retrieval-aware distillation, arXiv 2602.11374):
 * - everything outside attention (embeddings, norms, MLPs, LM head) copied byte for byte;
 * - attention layers copied; hybrid layers' kept heads take their q rows, the k and v rows of
 *   their key/value head (grouped-query heads expanded, one key/value per kept head) and their
 *   o_proj columns;
 * - SSM mixers born from the layer's attention (ssm-init.ts), or from random projections of the
 *   same shapes (`init`);
 * - adapters start as the identity with a zero bias.
 * Tensors are produced one at a time as the writer asks, so the teacher is never held whole.
 * Letters: C hidden, D head dim, Hq query heads, Hkv key/value heads.
 */
export function studentTensors(ckpt: Checkpoint, cfg: HybridConfig, dtype: Dtype, init: SsmInit = {kind: 'attention'}): TensorToWrite[] {
  const t = cfg.teacher
  const read = cachedReader(ckpt)
  const sourceOf = init.kind === 'random' ? lastLayerOnly((l) => randomAttention(t, init.seed, l)) : (l: number) => attentionOf(read, t, l)
  const kvOf = (h: number): number => Math.floor(h / (t.numHeads / t.numKvHeads))
  const tensors: TensorToWrite[] = []
  const add = (name: string, shape: number[], make: () => Promise<Float32Array | Uint8Array>): void => {
    tensors.push({name, dtype, shape, data: make})
  }
  for (const [name, shape] of expectedHybridWeights(cfg)) {
    const m = /^model\.layers\.(\d+)\.(self_attn|ssm|adapter)\.(.+)$/.exec(name)
    if (!m) {
      add(name, shape, () => copy(ckpt, name, dtype))
      continue
    }
    const l = Number(m[1])
    const part = m[2]
    const local = m[3]
    if (part === 'adapter') add(name, shape, async () => (local === 'out_proj.weight' ? identity(shape[0]) : new Float32Array(shape[0])))
    else if (part === 'ssm') add(name, shape, async () => ssmFromAttention(cfg.mixer, local, await sourceOf(l)))
    else if (layerKind(cfg, l) === 'attention') add(name, shape, () => copy(ckpt, name, dtype))
    else add(name, shape, async () => keptHeads(await read(name), name, t, l, cfg.layers[l].attentionHeads, kvOf))
  }
  return tensors
}

/** Rows (q, k, v, their biases) or columns (o) of the kept heads. */
function keptHeads(src: Float32Array, name: string, t: TeacherConfig, l: number, heads: number[], kvOf: (h: number) => number): Float32Array {
  const n = attentionNames(t, l)
  const D = t.headDim
  const C = t.hiddenSize
  if (name === n.o + '.bias') return src
  if (name === n.o + '.weight') {
    const out = new Float32Array(C * heads.length * D)
    const width = t.numHeads * D
    for (let r = 0; r < C; r++) heads.forEach((h, i) => out.set(src.subarray(r * width + h * D, r * width + (h + 1) * D), (r * heads.length + i) * D))
    return out
  }
  const isQuery = name.startsWith(n.q + '.')
  const cols = name.endsWith('.bias') ? 1 : C
  const out = new Float32Array(heads.length * D * cols)
  heads.forEach((h, i) => {
    const from = (isQuery ? h : kvOf(h)) * D * cols
    out.set(src.subarray(from, from + D * cols), i * D * cols)
  })
  return out
}

async function attentionOf(read: (name: string) => Promise<Float32Array>, t: TeacherConfig, l: number): Promise<AttentionWeights> {
  const n = attentionNames(t, l)
  const opt = async (name: string) => (t.attentionBias ? read(name) : undefined)
  return {
    teacher: t,
    q: await read(n.q + '.weight'),
    k: await read(n.k + '.weight'),
    v: await read(n.v + '.weight'),
    o: await read(n.o + '.weight'),
    qBias: await opt(n.q + '.bias'),
    kBias: await opt(n.k + '.bias'),
    vBias: await opt(n.v + '.bias'),
    oBias: await opt(n.o + '.bias'),
  }
}

/** The teacher's bytes when the dtype is unchanged (exact), else its values as f32 for the writer to narrow. */
async function copy(ckpt: Checkpoint, name: string, dtype: Dtype): Promise<Float32Array | Uint8Array> {
  if (ckpt.info(name).dtype !== dtype) return readFiniteF32(ckpt, name)
  const bytes = await ckpt.readBytes(name)
  checkFiniteStored(bytes, dtype, name, ckpt.path)
  return bytes
}

function identity(n: number): Float32Array {
  const out = new Float32Array(n * n)
  for (let i = 0; i < n; i++) out[i * n + i] = 1
  return out
}

/** f32 reads of teacher tensors, keeping the last few: a layer's q/k/v/o are read by several student tensors in a row. */
function cachedReader(ckpt: Checkpoint, size = 8): (name: string) => Promise<Float32Array> {
  const cache = new Map<string, Promise<Float32Array>>()
  return (name) => {
    let hit = cache.get(name)
    if (hit) {
      cache.delete(name)
    } else {
      hit = readFiniteF32(ckpt, name)
      if (cache.size >= size) cache.delete(cache.keys().next().value!)
    }
    cache.set(name, hit)
    return hit
  }
}

/** `make(l)` kept for the layer last asked for: a layer's mixer tensors are written one after another. */
function lastLayerOnly(make: (l: number) => AttentionWeights): (l: number) => AttentionWeights {
  let last: {l: number; weights: AttentionWeights} | undefined
  return (l) => {
    if (last?.l !== l) last = {l, weights: make(l)}
    return last.weights
  }
}

/**
 * Projections as a freshly made linear layer has them (PyTorch's nn.Linear default: uniform in
 * ±1/sqrt(fan in)), no biases; deterministic in (seed, layer). Fed through ssmFromAttention they give
 * the mixer its usual structure (identity conv, spread decays) around random B, C, x and out_proj.
 */
function randomAttention(t: TeacherConfig, seed: number, l: number): AttentionWeights {
  const rng = new Random(seed, l)
  const D = t.headDim
  const C = t.hiddenSize
  const uniform = (n: number, fanIn: number) => Float32Array.from({length: n}, () => (2 * rng.float() - 1) / Math.sqrt(fanIn))
  return {teacher: t, q: uniform(t.numHeads * D * C, C), k: uniform(t.numKvHeads * D * C, C), v: uniform(t.numKvHeads * D * C, C), o: uniform(C * t.numHeads * D, t.numHeads * D)}
}
