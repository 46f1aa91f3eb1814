import type {Backend} from '../src/backend/backend.js'
import {backward, withTape} from '../src/engine/autograd.js'
import {narrow} from '../src/engine/layout-ops.js'
import {crossEntropy} from '../src/engine/losses.js'
import {add, attention, embedding, linear, rmsnorm, rope, swiglu} from '../src/engine/ops.js'
import {empty, fromArray, keep, scope, type Tensor} from '../src/engine/tensor.js'
import {AdamW, decayGroups, type NamedParam} from '../src/train/optimizer.js'
import type {BenchCase, BenchInstance} from './runner.js'

/**
 * One training step (forward, backward, AdamW) of a Llama-3.2-1B-shaped model built from ops,
 * fp32, random weights: the number bench/peer_torch.py's `train_step` repeats in PyTorch eager.
 * Letters: B batch, T time, C channels, V vocab, L layers, H heads, D head dim, F MLP width.
 * The LM head (tied to the embedding, as in Llama 3.2 1B) and the loss run one batch entry at a
 * time, so the logits [T, V] stay under WebGPU's largest storage binding.
 */
export interface LlamaShape {
  batch: number
  seq: number
  channels: number
  layers: number
  heads: number
  kvHeads: number
  headDim: number
  hidden: number
  vocab: number
}

export const LLAMA_1B: LlamaShape = {batch: 4, seq: 2048, channels: 2048, layers: 16, heads: 32, kvHeads: 8, headDim: 64, hidden: 8192, vocab: 128256}
const SMALL: LlamaShape = {batch: 2, seq: 64, channels: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16, hidden: 128, vocab: 256}
const EPS = 1e-5

/** Parameter shapes by name, Hugging Face Llama naming. */
export function parameterShapes(s: LlamaShape): [string, number[]][] {
  const shapes: [string, number[]][] = [['embed_tokens.weight', [s.vocab, s.channels]]]
  for (let l = 0; l < s.layers; l++) {
    const p = `layers.${l}.`
    shapes.push(
      [`${p}input_layernorm.weight`, [s.channels]],
      [`${p}self_attn.q_proj.weight`, [s.heads * s.headDim, s.channels]],
      [`${p}self_attn.k_proj.weight`, [s.kvHeads * s.headDim, s.channels]],
      [`${p}self_attn.v_proj.weight`, [s.kvHeads * s.headDim, s.channels]],
      [`${p}self_attn.o_proj.weight`, [s.channels, s.heads * s.headDim]],
      [`${p}post_attention_layernorm.weight`, [s.channels]],
      [`${p}mlp.gate_proj.weight`, [s.hidden, s.channels]],
      [`${p}mlp.up_proj.weight`, [s.hidden, s.channels]],
      [`${p}mlp.down_proj.weight`, [s.channels, s.hidden]],
    )
  }
  shapes.push(['norm.weight', [s.channels]])
  return shapes
}

/** 6·params·tokens for the matmuls plus the causal attention's 2·2·T²/2·H·D per sequence, ×3 for backward. */
export function stepFlops(s: LlamaShape): number {
  const params = parameterShapes(s).reduce((n, [, shape]) => n + shape.reduce((a, b) => a * b, 1), 0)
  const tokens = s.batch * s.seq
  const attention = 3 * s.layers * s.batch * 2 * s.seq * s.seq * s.heads * s.headDim
  return 6 * params * tokens + attention
}

/**
 * Weights uniform in ±0.02 (norms 1) from one random block repeated over a host buffer as large
 * as the largest parameter: writing 5 GB of weights must not wait on 1.2 billion host draws.
 */
function randomParams(backend: Backend, s: LlamaShape): NamedParam[] {
  const shapes = parameterShapes(s)
  const largest = Math.max(...shapes.map(([, shape]) => shape.reduce((a, b) => a * b, 1)))
  const block = 1 << 16
  const host = new Float32Array(Math.ceil(largest / block) * block)
  let seed = 12345
  for (let i = 0; i < block; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0
    host[i] = (seed / 2 ** 32 - 0.5) * 0.04
  }
  for (let at = block; at < host.length; at *= 2) host.copyWithin(at, 0, Math.min(at, host.length - at))
  const ones = new Float32Array(s.channels).fill(1)
  return shapes.map(([name, shape]) => {
    const tensor = keep(empty(backend, shape))
    backend.write(tensor.storage, shape.length === 1 ? ones : host.subarray(0, tensor.numel))
    tensor.requiresGrad = true
    return {name, tensor}
  })
}

class BenchLlama {
  private readonly w: Map<string, Tensor>
  private readonly cos: Tensor
  private readonly sin: Tensor
  /** RoPE tables, owned here: dispose with the parameters. */
  readonly tables: Tensor[]

  constructor(readonly s: LlamaShape, readonly params: NamedParam[]) {
    this.w = new Map(params.map((p) => [p.name, p.tensor]))
    const half = s.headDim / 2
    const angles = Float32Array.from({length: s.seq * half}, (_, i) => Math.floor(i / half) * 500000 ** (-(i % half) / half))
    const backend = params[0].tensor.backend
    this.cos = keep(fromArray(backend, angles.map(Math.cos), [s.seq, half]))
    this.sin = keep(fromArray(backend, angles.map(Math.sin), [s.seq, half]))
    this.tables = [this.cos, this.sin]
  }

  /** Mean next-token loss of ids [B, T] against labels, one [T] tensor per batch entry. */
  loss(ids: Tensor, labels: Tensor[]): Tensor {
    const {batch: b, seq: t, heads, kvHeads, headDim: d, layers, channels: c} = this.s
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
      h = add(h, linear(swiglu(linear(y, w(`${p}mlp.gate_proj.weight`)), linear(y, w(`${p}mlp.up_proj.weight`))), w(`${p}mlp.down_proj.weight`)))
    }
    const final = rmsnorm(h, w('norm.weight'), EPS).reshape([b * t, c])
    let loss: Tensor | undefined
    for (let i = 0; i < b; i++) {
      const logits = linear(narrow(final, 0, i * t, t), w('embed_tokens.weight'))
      const part = crossEntropy(logits, labels[i], {count: b * t})
      loss = loss ? add(loss, part) : part
    }
    return loss!
  }
}

/** `train step` case: `layers` overrides the depth (the full 16 need about 60 GB of GPU memory). */
export function trainStepCase(layers?: number): BenchCase {
  return {
    name: 'train step llama-1b',
    make(backend, size): BenchInstance {
      const s = size === 'large' ? {...LLAMA_1B, layers: layers ?? LLAMA_1B.layers} : SMALL
      const params = randomParams(backend, s)
      const model = new BenchLlama(s, params)
      const opt = new AdamW(decayGroups(params, 0.1))
      const tokens = Int32Array.from({length: s.batch * s.seq}, (_, i) => (i * 7919) % s.vocab)
      const ids = keep(fromArray(backend, tokens, [s.batch, s.seq]))
      const next = Int32Array.from(tokens, (_, i) => tokens[(i + 1) % tokens.length])
      const labels = Array.from({length: s.batch}, (_, i) => keep(fromArray(backend, next.subarray(i * s.seq, (i + 1) * s.seq), [s.seq])))
      const step = (): void =>
        scope(() => {
          const {result: loss} = withTape(() => model.loss(ids, labels))
          opt.step(backward(loss, opt.params), {lr: 1e-5})
        })
      const shape = `L=${s.layers} B=${s.batch} T=${s.seq} C=${s.channels} V=${s.vocab}`
      // Bytes: weights read twice and written once, plus AdamW's two moments and the gradient.
      const paramBytes = 4 * params.reduce((n, p) => n + p.tensor.numel, 0)
      return {run: step, shape, flops: stepFlops(s), bytes: 7 * paramBytes, reps: 1, hostTimer: true, dispose: () => [...params.map((p) => p.tensor), ids, ...labels, ...model.tables].forEach((t) => t.dispose())}
    },
  }
}
