import type {Backend} from '../src/backend/backend.js'
import {backward, withTape} from '../src/engine/autograd.js'
import {narrow} from '../src/engine/layout-ops.js'
import {crossEntropy} from '../src/engine/losses.js'
import {add, linear} from '../src/engine/ops.js'
import {empty, fromArray, keep, scope, type Tensor} from '../src/engine/tensor.js'
import type {TeacherConfig} from '../src/models/config.js'
import {llamaConfig, type LlamaShape} from '../src/models/llama-shape.js'
import {TeacherModel} from '../src/models/teacher.js'
import {expectedTeacherWeights} from '../src/models/teacher-weights.js'
import {AdamW, decayGroups, type NamedParam} from '../src/train/optimizer.js'
import type {BenchCase, BenchInstance} from './runner.js'

/**
 * One training step (forward, backward, AdamW) of a Llama-3.2-1B-shaped model, the decoder of
 * models/decoder.ts, fp32, random weights: the number bench/peer_torch.py's `train_step` repeats
 * in PyTorch eager. Letters: B batch, T time, C channels, V vocab.
 * The LM head (tied to the embedding, as in Llama 3.2 1B) and the loss run one batch entry at a
 * time, so the logits [T, V] stay under WebGPU's largest storage binding.
 */
export interface TrainShape extends LlamaShape {
  batch: number
  seq: number
}

export const LLAMA_1B: TrainShape = {batch: 4, seq: 2048, channels: 2048, layers: 16, heads: 32, kvHeads: 8, headDim: 64, hidden: 8192, vocab: 128256, ropeTheta: 500000, tied: true, maxPositions: 2048}
const SMALL: TrainShape = {batch: 2, seq: 64, channels: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16, hidden: 128, vocab: 256, ropeTheta: 500000, tied: true, maxPositions: 64}

/** 6·params·tokens for the matmuls plus the causal attention's 2·2·T²/2·H·D per sequence, ×3 for backward. */
export function stepFlops(s: TrainShape): number {
  const params = [...expectedTeacherWeights(llamaConfig(s)).values()].reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0)
  const tokens = s.batch * s.seq
  const attention = 3 * s.layers * s.batch * 2 * s.seq * s.seq * s.heads * s.headDim
  return 6 * params * tokens + attention
}

/**
 * Weights uniform in ±0.02 (norms 1) from one random block repeated over a host buffer as large
 * as the largest parameter: writing 5 GB of weights must not wait on 1.2 billion host draws.
 */
function randomParams(backend: Backend, config: TeacherConfig): NamedParam[] {
  const shapes = [...expectedTeacherWeights(config)]
  const largest = Math.max(...shapes.map(([, shape]) => shape.reduce((a, b) => a * b, 1)))
  const block = 1 << 16
  const host = new Float32Array(Math.ceil(largest / block) * block)
  let seed = 12345
  for (let i = 0; i < block; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0
    host[i] = (seed / 2 ** 32 - 0.5) * 0.04
  }
  for (let at = block; at < host.length; at *= 2) host.copyWithin(at, 0, Math.min(at, host.length - at))
  const ones = new Float32Array(config.hiddenSize).fill(1)
  return shapes.map(([name, shape]) => {
    const tensor = keep(empty(backend, shape))
    backend.write(tensor.storage, shape.length === 1 ? ones : host.subarray(0, tensor.numel))
    tensor.requiresGrad = true
    return {name, tensor}
  })
}

/** Mean next-token loss of ids [B, T] against labels, one [T] tensor per batch entry. */
function stepLoss(model: TeacherModel, s: TrainShape, ids: Tensor, labels: Tensor[]): Tensor {
  const final = model.finalHidden(ids).reshape([s.batch * s.seq, s.channels])
  let total: Tensor | undefined
  for (let i = 0; i < s.batch; i++) {
    const logits = linear(narrow(final, 0, i * s.seq, s.seq), model.lmHead)
    const part = crossEntropy(logits, labels[i], {count: s.batch * s.seq})
    total = total ? add(total, part) : part
  }
  return total!
}

/** `train step` case: `layers` overrides the depth (the full 16 need about 60 GB of GPU memory). */
export function trainStepCase(layers?: number): BenchCase {
  return {
    name: 'train step llama-1b',
    make(backend, size): BenchInstance {
      const s = size === 'large' ? {...LLAMA_1B, layers: layers ?? LLAMA_1B.layers} : SMALL
      const config = llamaConfig(s)
      const params = randomParams(backend, config)
      const model = new TeacherModel(config, new Map(params.map((p) => [p.name, p.tensor])), backend)
      const opt = new AdamW(decayGroups(params, 0.1))
      const tokens = Int32Array.from({length: s.batch * s.seq}, (_, i) => (i * 7919) % s.vocab)
      const ids = keep(fromArray(backend, tokens, [s.batch, s.seq]))
      const next = Int32Array.from(tokens, (_, i) => tokens[(i + 1) % tokens.length])
      const labels = Array.from({length: s.batch}, (_, i) => keep(fromArray(backend, next.subarray(i * s.seq, (i + 1) * s.seq), [s.seq])))
      const step = (): void =>
        scope(() => {
          const {result: loss} = withTape(() => stepLoss(model, s, ids, labels))
          opt.step(backward(loss, opt.params), {lr: 1e-5})
        })
      const shape = `L=${s.layers} B=${s.batch} T=${s.seq} C=${s.channels} V=${s.vocab}`
      // Bytes: weights read twice and written once, plus AdamW's two moments and the gradient.
      const paramBytes = 4 * params.reduce((n, p) => n + p.tensor.numel, 0)
      return {run: step, shape, flops: stepFlops(s), bytes: 7 * paramBytes, reps: 1, hostTimer: true, dispose: () => [...params.map((p) => p.tensor), ids, ...labels].forEach((t) => t.dispose())}
    },
  }
}
