import type {Backend} from '../../src/backend/backend.js'
import {crossEntropy} from '../../src/engine/losses.js'
import {add, attention, embedding, linear, rmsnorm, rope, swiglu} from '../../src/engine/ops.js'
import {fromArray, type Tensor} from '../../src/engine/tensor.js'
import type {NamedParam} from '../../src/train/optimizer.js'
import {Rng} from '../helpers/random.js'

/**
 * A tiny Llama built from ops (embedding, RMSNorm, GQA attention with RoPE, SwiGLU MLP, untied
 * LM head) for training smoke tests, and its toy task: copy the token `LAG` positions back.
 * Letters: B batch, T time, C channels, V vocab, H heads, D head dim.
 */
export const SIZES = {vocab: 12, seq: 12, batch: 8, channels: 32, heads: 4, kvHeads: 2, headDim: 8, hidden: 64, layers: 2}
export const LAG = 2
const EPS = 1e-5

/** Parameter values, identical for every backend: name -> [shape, data]. */
export function initialWeights(seed: number): Map<string, [number[], Float32Array]> {
  const rng = new Rng(seed)
  const {vocab, channels: c, heads, kvHeads, headDim: d, hidden, layers} = SIZES
  const w = new Map<string, [number[], Float32Array]>()
  const dense = (name: string, out: number, inp: number): void => void w.set(name, [[out, inp], rng.floats(out * inp, Math.sqrt(3 / inp))])
  const ones = (name: string, n: number): void => void w.set(name, [[n], new Float32Array(n).fill(1)])
  w.set('embed_tokens.weight', [[vocab, c], rng.floats(vocab * c, 1)])
  for (let l = 0; l < layers; l++) {
    const p = `layers.${l}.`
    ones(`${p}input_layernorm.weight`, c)
    dense(`${p}self_attn.q_proj.weight`, heads * d, c)
    dense(`${p}self_attn.k_proj.weight`, kvHeads * d, c)
    dense(`${p}self_attn.v_proj.weight`, kvHeads * d, c)
    dense(`${p}self_attn.o_proj.weight`, c, heads * d)
    ones(`${p}post_attention_layernorm.weight`, c)
    dense(`${p}mlp.gate_proj.weight`, hidden, c)
    dense(`${p}mlp.up_proj.weight`, hidden, c)
    dense(`${p}mlp.down_proj.weight`, c, hidden)
  }
  ones('norm.weight', c)
  dense('lm_head.weight', vocab, c)
  return w
}

export class TinyLlama {
  readonly params: NamedParam[]
  private readonly w: Map<string, Tensor>
  private readonly cos: Tensor
  private readonly sin: Tensor

  constructor(readonly backend: Backend, weights: Map<string, [number[], Float32Array]>) {
    this.w = new Map([...weights].map(([name, [shape, data]]) => [name, fromArray(backend, data, shape)]))
    for (const t of this.w.values()) t.requiresGrad = true
    this.params = [...this.w].map(([name, tensor]) => ({name, tensor}))
    const half = SIZES.headDim / 2
    const angles = Float32Array.from({length: SIZES.seq * half}, (_, i) => Math.floor(i / half) * 10000 ** (-(i % half) / half))
    this.cos = fromArray(backend, angles.map(Math.cos), [SIZES.seq, half])
    this.sin = fromArray(backend, angles.map(Math.sin), [SIZES.seq, half])
  }

  /** ids [B, T] -> logits [B, T, V]. */
  forward(ids: Tensor): Tensor {
    const {batch: b, seq: t, heads, kvHeads, headDim: d, layers} = SIZES
    const w = (name: string): Tensor => this.w.get(name)!
    let h = embedding(ids, w('embed_tokens.weight'))
    for (let l = 0; l < layers; l++) {
      const p = `layers.${l}.`
      const x = rmsnorm(h, w(`${p}input_layernorm.weight`), EPS)
      const q = rope(linear(x, w(`${p}self_attn.q_proj.weight`)).reshape([b, t, heads, d]), this.cos, this.sin, d)
      const k = rope(linear(x, w(`${p}self_attn.k_proj.weight`)).reshape([b, t, kvHeads, d]), this.cos, this.sin, d)
      const v = linear(x, w(`${p}self_attn.v_proj.weight`)).reshape([b, t, kvHeads, d])
      const {out} = attention(q, k, v)
      h = add(h, linear(out.reshape([b, t, heads * d]), w(`${p}self_attn.o_proj.weight`)))
      const y = rmsnorm(h, w(`${p}post_attention_layernorm.weight`), EPS)
      const gated = swiglu(linear(y, w(`${p}mlp.gate_proj.weight`)), linear(y, w(`${p}mlp.up_proj.weight`)))
      h = add(h, linear(gated, w(`${p}mlp.down_proj.weight`)))
    }
    return linear(rmsnorm(h, w('norm.weight'), EPS), w('lm_head.weight'))
  }

  loss(batch: CopyBatch): Tensor {
    const ids = fromArray(this.backend, batch.ids, [SIZES.batch, SIZES.seq])
    const labels = fromArray(this.backend, batch.labels, [SIZES.batch, SIZES.seq])
    return crossEntropy(this.forward(ids), labels, {count: batch.count})
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
