import type {Backend} from '../../src/backend/backend.js'
import {crossEntropy} from '../../src/engine/losses.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import {llamaConfig} from '../../src/models/llama-shape.js'
import {TeacherModel} from '../../src/models/teacher.js'
import {expectedTeacherWeights} from '../../src/models/teacher-weights.js'
import type {NamedParam} from '../../src/train/optimizer.js'
import {Rng} from '../helpers/random.js'

/**
 * A tiny Llama (the decoder of models/decoder.ts: embedding, RMSNorm, GQA attention with RoPE,
 * SwiGLU MLP, untied LM head) for training smoke tests, and its toy task: copy the token `LAG`
 * positions back. Letters: B batch, T time, V vocab.
 */
export const SIZES = {vocab: 12, seq: 12, batch: 8}
export const LAG = 2
const CONFIG = llamaConfig({vocab: SIZES.vocab, channels: 32, hidden: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 8, ropeTheta: 10000, tied: false, maxPositions: SIZES.seq})

/** Parameter values, identical for every backend: name -> [shape, data]. Norms 1, the embedding in ±1, matrices in ±sqrt(3 / fan-in). */
export function initialWeights(seed: number): Map<string, [number[], Float32Array]> {
  const rng = new Rng(seed)
  const w = new Map<string, [number[], Float32Array]>()
  for (const [name, shape] of expectedTeacherWeights(CONFIG)) {
    const n = shape.reduce((a, b) => a * b, 1)
    if (shape.length === 1) w.set(name, [shape, new Float32Array(n).fill(1)])
    else w.set(name, [shape, rng.floats(n, name === 'model.embed_tokens.weight' ? 1 : Math.sqrt(3 / shape[1]))])
  }
  return w
}

export class TinyLlama {
  readonly params: NamedParam[]
  private readonly model: TeacherModel

  constructor(readonly backend: Backend, weights: Map<string, [number[], Float32Array]>) {
    const tensors = new Map([...weights].map(([name, [shape, data]]) => [name, fromArray(backend, data, shape)]))
    for (const t of tensors.values()) t.requiresGrad = true
    this.params = [...tensors].map(([name, tensor]) => ({name, tensor}))
    this.model = new TeacherModel(CONFIG, tensors, backend)
  }

  loss(batch: CopyBatch): Tensor {
    const ids = fromArray(this.backend, batch.ids, [SIZES.batch, SIZES.seq])
    const labels = fromArray(this.backend, batch.labels, [SIZES.batch, SIZES.seq])
    return crossEntropy(this.model.forward(ids).logits, labels, {count: batch.count})
  }
}

export interface CopyBatch {
  ids: Int32Array
  /** ids[t − LAG], or −1 (ignored) for the first LAG positions. */
  labels: Int32Array
  count: number
}

export function copyBatch(rng: Rng): CopyBatch {
  const {batch, seq, vocab} = SIZES
  const ids = rng.ints(batch * seq, 0, vocab - 1)
  const labels = Int32Array.from(ids, (_, i) => (i % seq < LAG ? -1 : ids[i - LAG]))
  return {ids, labels, count: batch * (seq - LAG)}
}
