import {add, geluNew, layernorm, linear, rmsnorm, swiglu} from '../engine/ops.js'
import type {Tensor} from '../engine/tensor.js'
import type {TeacherConfig} from './config.js'

/** Read access to a decoder's weights by their transformers names. */
export interface WeightSource {
  weight(name: string): Tensor
  optionalWeight(name: string): Tensor | undefined
}

/**
 * What a model family puts around each layer's token mixer, and after the last layer. The mixer
 * (attention, an SSM, or both) is the decoder's to run; the shape says where its input comes from
 * and how its output meets the residual stream and the MLP.
 */
export interface BlockShape {
  /** Layer l's normalised input x, the mixer's input (and Phi's MLP's). */
  inputNorm(w: WeightSource, l: number, h: Tensor, eps: number): Tensor
  /** Layer l's output from h entering it, its normalised input x and its mixer's output m. */
  finish(w: WeightSource, l: number, h: Tensor, x: Tensor, m: Tensor, eps: number): Tensor
  /** The norm after the last layer. */
  finalNorm(w: WeightSource, h: Tensor, eps: number): Tensor
  /** The tensors of layer l besides its mixer's (norms, MLP), in checkpoint order, with their shapes. */
  layerWeights(cfg: TeacherConfig, l: number): [string, number[]][]
  /** The final norm's tensors. */
  finalWeights(cfg: TeacherConfig): [string, number[]][]
  /** The attention's output projection under `self_attn.`: `o_proj`, or Phi's `dense`. */
  outputProjection: string
  /** The LM head has a bias [V]. */
  lmHeadBias: boolean
}

const dense = (w: WeightSource, x: Tensor, name: string): Tensor => linear(x, w.weight(name + '.weight'), w.optionalWeight(name + '.bias'))

/** Llama: sequential pre-norm RMSNorm blocks with a SwiGLU MLP. h += mix(rmsnorm(h)); h += mlp(rmsnorm(h)). */
const LLAMA: BlockShape = {
  inputNorm: (w, l, h, eps) => rmsnorm(h, w.weight(`model.layers.${l}.input_layernorm.weight`), eps),
  finish(w, l, h, _x, m, eps) {
    const p = `model.layers.${l}.`
    const mid = add(h, m)
    const y = rmsnorm(mid, w.weight(p + 'post_attention_layernorm.weight'), eps)
    return add(mid, dense(w, swiglu(dense(w, y, p + 'mlp.gate_proj'), dense(w, y, p + 'mlp.up_proj')), p + 'mlp.down_proj'))
  },
  finalNorm: (w, h, eps) => rmsnorm(h, w.weight('model.norm.weight'), eps),
  layerWeights(cfg, l) {
    const {hiddenSize: C, intermediateSize: F} = cfg
    const p = `model.layers.${l}.`
    const mlp = ([['gate_proj', [F, C]], ['up_proj', [F, C]], ['down_proj', [C, F]]] as const).flatMap(([name, shape]): [string, number[]][] => [
      [`${p}mlp.${name}.weight`, [...shape]],
      ...(cfg.mlpBias ? [[`${p}mlp.${name}.bias`, [shape[0]]] as [string, number[]]] : []),
    ])
    return [[p + 'input_layernorm.weight', [C]], [p + 'post_attention_layernorm.weight', [C]], ...mlp]
  },
  finalWeights: (cfg) => [['model.norm.weight', [cfg.hiddenSize]]],
  outputProjection: 'o_proj',
  lmHeadBias: false,
}

/** Phi: one LayerNorm feeding the mixer and a GELU MLP in parallel, dense biases. x = layernorm(h); h += mix(x) + mlp(x). */
const PHI: BlockShape = {
  inputNorm: (w, l, h, eps) => layernorm(h, w.weight(`model.layers.${l}.input_layernorm.weight`), w.weight(`model.layers.${l}.input_layernorm.bias`), eps),
  finish(w, l, h, x, m) {
    const p = `model.layers.${l}.`
    return add(add(h, m), dense(w, geluNew(dense(w, x, p + 'mlp.fc1')), p + 'mlp.fc2'))
  },
  finalNorm: (w, h, eps) => layernorm(h, w.weight('model.final_layernorm.weight'), w.weight('model.final_layernorm.bias'), eps),
  layerWeights(cfg, l) {
    const {hiddenSize: C, intermediateSize: F} = cfg
    const p = `model.layers.${l}.`
    return [
      [p + 'input_layernorm.weight', [C]], [p + 'input_layernorm.bias', [C]],
      [p + 'mlp.fc1.weight', [F, C]], [p + 'mlp.fc1.bias', [F]],
      [p + 'mlp.fc2.weight', [C, F]], [p + 'mlp.fc2.bias', [C]],
    ]
  },
  finalWeights: (cfg) => [['model.final_layernorm.weight', [cfg.hiddenSize]], ['model.final_layernorm.bias', [cfg.hiddenSize]]],
  outputProjection: 'dense',
  lmHeadBias: true,
}

export const BLOCK_SHAPES: Record<TeacherConfig['family'], BlockShape> = {llama: LLAMA, phi: PHI}
