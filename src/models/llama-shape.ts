import type {TeacherConfig} from './config.js'

/**
 * A Llama by its sizes, for models built in code rather than loaded (the training-step benchmark,
 * the training tests): the config the decoder runs, with no biases and RoPE without scaling.
 * Letters: V vocab, C channels, F MLP width.
 */
export interface LlamaShape {
  vocab: number
  channels: number
  /** F, the MLP's width. */
  hidden: number
  layers: number
  heads: number
  kvHeads: number
  headDim: number
  ropeTheta: number
  /** The LM head is the embedding (Llama 3.2 1B), else a weight of its own. */
  tied: boolean
  maxPositions: number
}

export function llamaConfig(s: LlamaShape): TeacherConfig {
  return {
    family: 'llama',
    architecture: 'LlamaForCausalLM',
    vocabSize: s.vocab,
    hiddenSize: s.channels,
    intermediateSize: s.hidden,
    numLayers: s.layers,
    numHeads: s.heads,
    numKvHeads: s.kvHeads,
    headDim: s.headDim,
    normEps: 1e-5,
    ropeTheta: s.ropeTheta,
    rotaryDim: s.headDim,
    ropeScaling: {type: 'default'},
    maxPositions: s.maxPositions,
    attentionBias: false,
    mlpBias: false,
    tieWordEmbeddings: s.tied,
    hiddenAct: 'silu',
  }
}
